"""configure: check params.yaml (and that this machine can run it: hsvae.pipeline.checks) and
write each stage's settings to configs/STAGE.json.

Every later stage depends on its own file, so DVC re-runs exactly the stages whose settings
changed, and a bad value stops here, before DVC removes any other stage's outputs."""
import json

from hsvae.atomic import atomic_path
from hsvae.pipeline.checks import check_machine
from hsvae.pipeline.stage import CONFIGS, load_params, run, stage_configs


def main():
    params = load_params()
    check_machine(params)
    configs = stage_configs(params)
    with atomic_path(CONFIGS) as out:
        for key, settings in configs.items():
            path = out / f"{key}.json"
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(json.dumps(settings, indent=1, sort_keys=True) + "\n")


if __name__ == "__main__":
    run(main)
