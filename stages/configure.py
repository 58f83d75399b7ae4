"""configure: check params.yaml and write each stage's settings to configs/STAGE.json.

Every later stage depends on its own file, so DVC re-runs exactly the stages whose settings
changed, and a bad value stops here, before DVC removes any other stage's outputs."""
import json

from hsvae.atomic import atomic_path
from hsvae.pipeline.stage import CONFIGS, load_params, run, stage_configs


def main():
    configs = stage_configs(load_params())
    with atomic_path(CONFIGS) as out:
        for key, settings in configs.items():
            path = out / f"{key}.json"
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(json.dumps(settings, indent=1, sort_keys=True) + "\n")


if __name__ == "__main__":
    run(main)
