"""configure: check params.yaml (and that this machine can run it: hsvae.pipeline.checks) and
write each stage's settings to configs/STAGE.json (hsvae.pipeline.configs).

The only stage that reads params.yaml: every later stage reads and depends on its own file,
so DVC re-runs exactly the stages whose settings changed, and a bad value stops here, before
DVC removes any other stage's outputs."""
import json

from hsvae.core.atomic import atomic_path
from hsvae.pipeline.checks import check_machine
from hsvae.pipeline.configs import stage_configs
from hsvae.pipeline.params import load
from hsvae.pipeline.stage import CONFIGS, run


def main():
    params = load("params.yaml")
    check_machine(params)
    with atomic_path(CONFIGS) as out:
        for key, settings in stage_configs(params).items():
            path = out / f"{key}.json"
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(json.dumps(settings.params(), indent=1, sort_keys=True) + "\n")


if __name__ == "__main__":
    run(main)
