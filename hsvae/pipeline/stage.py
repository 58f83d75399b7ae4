"""What every stage script shares: its settings (configs/STAGE.json, written by `configure`
from params.yaml: hsvae.pipeline.configs), the provenance check of each input it reads, and
user errors and Ctrl-C shown as one line."""
import os
import sys
from pathlib import Path

from hsvae.core.atomic import write_json
from hsvae.core.errors import USER_ERRORS, InputError, MissingInput, read_json
DATA, RAW = "data/processed", "data/raw"
CONFIGS = Path("configs")
RECORD = "made_with.json"  # a folder's provenance record


def stage_config(key: str) -> dict:
    """The settings of stage `key` (e.g. "pretrain/hsvae"), as `configure` wrote them."""
    path = CONFIGS / f"{key}.json"
    if not path.is_file():
        listed = " (is it in params.yaml's models or baselines?)" if "/" in key else ""
        raise MissingInput(f"{path}: missing{listed}; run `python -m stages.configure` (or dvc repro) first")
    config = read_json(path, "configure")
    if not isinstance(config, dict) or "made_with" not in config and "inputs" not in config:
        raise InputError(f"{path}: not what configure writes; run `python -m stages.configure` (or dvc repro)")
    return config


def write_record(folder, config: dict):
    """The provenance record of a folder a stage writes: what it was made with."""
    write_json(Path(folder) / RECORD, config["made_with"])


def folder_record(folder, maker: str):
    return read_json(Path(folder) / RECORD, maker)


def check_made_with(config: dict, path, recorded):
    """The input `path` was made with the settings this stage expects of it (config["inputs"]),
    for every param that shaped it; otherwise one line naming the param, both values and the
    stage to re-run."""
    expected = config["inputs"][str(path)]
    stage, wanted = expected["stage"], expected["made_with"]
    if not isinstance(recorded, dict):
        raise InputError(f"{path}: no record of the settings {stage} made it with; re-run {stage} (dvc repro)")
    for key in sorted(set(wanted) | set(recorded)):
        if recorded.get(key) != wanted.get(key):
            raise InputError(f"{path}: {stage} made it with {key} = {recorded.get(key)!r}, but params.yaml now says "
                             f"{wanted.get(key)!r}; re-run {stage} first (dvc repro)")


def model_argument(allowed) -> str:
    """The MODEL of `python -m stages.X MODEL`, checked against the names allowed."""
    if len(sys.argv) != 2 or sys.argv[1] not in allowed:
        raise InputError(f"stage argument: expected one model name from {', '.join(allowed)}, got {sys.argv[1:]}")
    return sys.argv[1]


def run(main):
    """Run a stage's main(); a user error prints one line naming what is wrong and exits 2,
    Ctrl-C one line and exit 130 (HSVAE_DEBUG=1 shows the traceback instead)."""
    try:
        main()
    except (*USER_ERRORS, KeyboardInterrupt) as error:
        if os.environ.get("HSVAE_DEBUG"):
            raise
        if isinstance(error, KeyboardInterrupt):
            print(f"interrupted{'; ' + str(error) if str(error) else ''}", file=sys.stderr)
            sys.exit(130)
        print(f"error: {error}", file=sys.stderr)
        sys.exit(2)
