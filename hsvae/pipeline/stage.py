"""What every stage script shares: its settings (configs/STAGE.json, written by `configure`
from params.yaml: hsvae.pipeline.configs), the provenance check of each input it reads, and
user errors and Ctrl-C shown as one line."""
import hashlib
import os
import sys
from pathlib import Path

from pydantic import ValidationError

from hsvae.core.atomic import write_json
from hsvae.core.errors import USER_ERRORS, InputError, MissingInput, read_json
from hsvae.pipeline.params import stage_settings

DATA, RAW = "data/processed", "data/raw"
CONFIGS = Path("configs")
RECORD = "made_with.json"  # a folder's provenance record


def stage_config(key: str):
    """The typed settings of stage `key` (e.g. "pretrain/hsvae"), as `configure` wrote them."""
    path = CONFIGS / f"{key}.json"
    if not path.is_file():
        listed = " (is it in params.yaml's models or baselines?)" if "/" in key else ""
        raise MissingInput(f"{path}: missing{listed}; run `python -m stages.configure` (or dvc repro) first")
    config = read_json(path, "configure")
    try:
        if not isinstance(config, dict) or "made_with" not in config and "inputs" not in config:
            raise ValueError
        return stage_settings(config)
    except (ValueError, ValidationError):
        raise InputError(f"{path}: not what configure writes; run `python -m stages.configure` (or dvc repro)") from None


def _files(folder: Path) -> list:
    return sorted(f for f in folder.rglob("*") if f.is_file() and f.name != RECORD)


def fingerprint(path) -> str:
    """A digest of a file, or of a folder's files (names and bytes, its own record left out):
    what a record holds of each file of its folder, and of a pipeline file an output was made
    from (data/processed, a model)."""
    path, digest = Path(path), hashlib.sha256()
    for file in _files(path) if path.is_dir() else [path]:
        data = file.read_bytes()
        digest.update(f"{file.relative_to(path).as_posix() if path.is_dir() else ''}\0{len(data)}\0".encode() + data)
    return digest.hexdigest()[:16]


def write_record(folder, made_with: dict):
    """The provenance record of a folder a stage has written: what it was made with, and the
    fingerprint of each of its files."""
    folder = Path(folder)
    write_json(folder / RECORD, {"made_with": made_with,
                                 "files": {f.relative_to(folder).as_posix(): fingerprint(f) for f in _files(folder)}})


def folder_record(folder, maker: str) -> dict:
    """What the folder was made with, once each of its files is checked against its record: a
    file changed, damaged or missing since `maker` wrote it is one line naming it."""
    folder = Path(folder)
    record = read_json(folder / RECORD, maker)
    if not isinstance(record, dict) or not isinstance(record.get("files"), dict) or "made_with" not in record:
        raise InputError(f"{folder / RECORD}: not what {maker} writes; re-run {maker} (dvc repro)")
    for name, digest in sorted(record["files"].items()):
        if not (folder / name).is_file():
            raise MissingInput(f"{folder / name}: missing; {maker} makes it (dvc repro)")
        if fingerprint(folder / name) != digest:
            raise InputError(f"{folder / name}: damaged or changed since {maker} wrote it; re-run {maker} (dvc repro)")
    return record["made_with"]


def made_from(config, *sources) -> dict:
    """An output's record: the params it was made with (config.made_with) and the
    fingerprint of each pipeline file or folder in `sources` it was made from."""
    return {**config.made_with, **{str(source): fingerprint(source) for source in sources}}


def check_made_with(config, path, recorded, sources=None):
    """The input `path` was made with the settings this stage expects of it (config.inputs),
    for every param that shaped it, and from the files this stage uses with it (`sources`:
    path -> fingerprint); otherwise one line naming the param or file and the stage to re-run."""
    expected = config.inputs[str(path)]
    stage, wanted = expected["stage"], expected["made_with"]
    if not isinstance(recorded, dict):
        raise InputError(f"{path}: no record of the settings {stage} made it with; re-run {stage} (dvc repro)")
    for key in sorted(set(wanted) | {k for k in recorded if "/" not in k}):  # params; files have a "/"
        if recorded.get(key) != wanted.get(key):
            raise InputError(f"{path}: {stage} made it with {key} = {recorded.get(key)!r}, but params.yaml now says "
                             f"{wanted.get(key)!r}; re-run {stage} first (dvc repro)")
    for source, digest in sorted((sources or {}).items()):
        if recorded.get(source) != digest:
            raise InputError(f"{path}: {stage} made it from another {source} than the one this stage uses; "
                             f"re-run {stage} first (dvc repro)")


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
