"""What every stage script shares: its settings (configs/STAGE.json, written by `configure`
from params.yaml: hsvae.pipeline.configs), the provenance check of each input it reads, and
user errors and Ctrl-C shown as one line."""
import json
import os
import sys
from functools import cache
from pathlib import Path
from typing import Optional

from pydantic import ValidationError, create_model

from hsvae.core.atomic import write_json
from hsvae.core.config import Section
from hsvae.core.digest import RECORD, digest, files_of
from hsvae.core.errors import USER_ERRORS, InputError, MissingInput, read_json, reading, safe_load

DATA, RAW = "data/processed", "data/raw"
CONFIGS = Path("configs")


class StageSettings(Section):
    """One stage's settings (configs/STAGE.json, written by `configure`): the params sections it
    reads, the model it is for, every param that shapes its outputs (`made_with`) and the files
    it reads with the stage that makes each (`inputs`)."""
    name: Optional[str] = None
    models: Optional[list[str]] = None
    baselines: Optional[list[str]] = None
    made_with: dict = {}
    inputs: dict[str, str] = {}


def settings_of(sections: dict) -> type:
    """The settings of a stage that reads these params sections (name -> declared type)."""
    return _settings_of(tuple(sections.items()))


@cache
def _settings_of(sections: tuple) -> type:
    return create_model("StageSettings", __base__=StageSettings, **{name: (kind, ...) for name, kind in sections})


def stage_config(key: str, **sections):
    """The settings of stage `key` (e.g. "pretrain/hsvae") as `configure` wrote them, typed:
    `sections` are the params sections this stage reads and their types (train=TrainSettings)."""
    path = CONFIGS / f"{key}.json"
    if not path.is_file():
        listed = " (is it in params.yaml's models or baselines?)" if "/" in key else ""
        raise MissingInput(f"{path}: missing{listed}; run `python -m stages.configure` (or dvc repro) first")
    config = read_json(path, "configure")
    try:
        return settings_of(sections).model_validate(config)
    except ValidationError:
        raise InputError(f"{path}: not what configure writes; run `python -m stages.configure` (or dvc repro)") from None


def write_record(folder, made_with: dict):
    """The provenance record of a folder a stage has written: what it was made with, and the
    digest of each of its files."""
    folder = Path(folder)
    write_json(folder / RECORD, {"made_with": made_with,
                                 "files": {f.relative_to(folder).as_posix(): digest(f) for f in files_of(folder)}})


def made_from(config, *sources) -> dict:
    """An output's record: the params it was made with (config.made_with) and the digest of
    each pipeline file or folder in `sources` it was made from (keyed by its path)."""
    return {**config.made_with, **{str(source): digest(source) for source in sources}}


def _folder_record(folder, maker: str) -> dict:
    """What the folder was made with, once each of its files is checked against its record: a
    file changed, damaged or missing since `maker` wrote it is one line naming it."""
    folder = Path(folder)
    record = read_json(folder / RECORD, maker)
    if not isinstance(record, dict) or not isinstance(record.get("files"), dict) or "made_with" not in record:
        raise InputError(f"{folder / RECORD}: not what {maker} writes; re-run {maker} (dvc repro)")
    for name, expected in sorted(record["files"].items()):
        if not (folder / name).is_file():
            raise MissingInput(f"{folder / name}: missing; {maker} makes it (dvc repro)")
        if digest(folder / name) != expected:
            raise InputError(f"{folder / name}: damaged or changed since {maker} wrote it; re-run {maker} (dvc repro)")
    return record["made_with"]


def recorded_with(path, maker: str):
    """What the input `path` (made by the stage `maker`) records it was made with: a folder's
    record file, a JSON output's `made_with`, the field inside a model file or a codes archive."""
    path = Path(path)
    if path.is_dir() or not path.suffix:
        return _folder_record(path, maker)
    if path.suffix == ".json":
        found = read_json(path, maker)
        return found.get("made_with") if isinstance(found, dict) else None
    if path.suffix == ".npz":
        import numpy as np

        with reading(path, maker), np.load(path) as archive:
            return json.loads(str(archive["made_with"]))
    saved = safe_load(path, advice=f"re-run {maker} (dvc repro)")
    return saved.get("config", {}).get("made_with") if isinstance(saved, dict) else None


def _check_made_with(config, path, recorded):
    """The input `path` (made by the stage config.inputs names) was made with the params this
    stage's own record says (config.made_with: every param that shapes this stage's outputs,
    its inputs' included) — each param of the input's record, and each param of the same
    sections — and from the files that are here now (each recorded file's digest); otherwise
    one line naming the param or file and the stage to re-run."""
    stage, wanted = config.inputs[str(path)], config.made_with
    if not isinstance(recorded, dict):
        raise InputError(f"{path}: no record of the settings {stage} made it with; re-run {stage} (dvc repro)")
    params = {k for k in recorded if "/" not in k}  # a key with a "/" is a file the input was made from
    sections = {k.split(".")[0] for k in params}
    for key in sorted(params | {k for k in wanted if k.split(".")[0] in sections}):
        if recorded.get(key) != wanted.get(key):
            raise InputError(f"{path}: {stage} made it with {key} = {recorded.get(key)!r}, but params.yaml now says "
                             f"{wanted.get(key)!r}; re-run {stage} first (dvc repro)")
    for source in sorted(set(recorded) - params):  # a file no longer here cannot disagree with what is read
        if Path(source).exists() and recorded[source] != digest(source):
            raise InputError(f"{path}: {stage} made it from another {source} than the one here now; "
                             f"re-run {stage} first (dvc repro)")


# Inputs are checked in the order the pipeline makes them: a model trained with other settings
# names pretrain, not the classify that read it.
PIPELINE_ORDER = ("download", "preprocess", "pretrain", "explore", "classify", "baseline")


def check_inputs(config):
    """Every input the stage declares (config.inputs: path -> the stage that makes it), checked
    by _check_made_with against its record."""
    def made(path):
        return PIPELINE_ORDER.index(config.inputs[path].split("@")[0]), path

    for path in sorted(config.inputs, key=made):
        _check_made_with(config, path, recorded_with(path, config.inputs[path]))


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
