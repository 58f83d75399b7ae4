"""Study definitions: conf/studies.yaml names grids of settings times replicate training seeds
(`hsvae study run NAME`). They are not stage params, so they live outside params.yaml and
`dvc exp show` lists only what the stages use."""
import copy
import itertools
from pathlib import Path

from hsvae.core.config import ParamError
from hsvae.pipeline.params import read_yaml, validate

STUDIES = Path("conf/studies.yaml")


def apply_overrides(params: dict, overrides: dict) -> dict:
    """A copy of `params` with dotted keys (`model.alpha`) set; the key must exist."""
    params = copy.deepcopy(params)
    for dotted, value in overrides.items():
        *path, last = dotted.split(".")
        section = params
        for key in path:
            if not isinstance(section, dict) or key not in section:
                raise ParamError(f"{dotted}: unknown key")
            section = section[key]
        if not isinstance(section, dict) or last not in section:
            raise ParamError(f"{dotted}: unknown key")
        section[last] = value
    return params


def study_points(study: dict) -> list:
    """The study's settings: for each group, `set` merged with each grid combination and each
    point (dicts of dotted key -> value), in declaration order."""
    settings = []
    for group in study["groups"]:
        grid = group.get("grid") or {}
        for combination in itertools.product(*grid.values()):
            for point in group.get("points") or [{}]:
                settings.append({**(group.get("set") or {}), **dict(zip(grid, combination)), **point})
    return settings


def check_studies(studies, settings, where_file=STUDIES):
    """Each study: replicates >= 1, groups of set/grid/points; every setting, applied to the
    checked params.yaml settings, must pass their check (so a bad point fails before any run starts)."""
    params = settings.params()
    if not isinstance(studies, dict):
        raise ParamError(f"{where_file}: expected named studies, got {studies!r}")
    for name, study in studies.items():
        where = f"{where_file}: {name}"
        if not isinstance(study, dict) or not {"replicates", "groups"} <= set(study) <= {"replicates", "groups",
                                                                                        "figures"}:
            raise ParamError(f"{where}: expected the keys replicates, groups and optionally figures")
        figures = study.get("figures", [])
        if not isinstance(figures, list) or not all(isinstance(f, str) for f in figures):
            raise ParamError(f"{where}.figures: expected a list of figure kinds (docs/studies.md)")
        replicates = study["replicates"]
        if not isinstance(replicates, int) or isinstance(replicates, bool) or replicates < 1:
            raise ParamError(f"{where}.replicates = {replicates!r}: expected an integer >= 1")
        if not isinstance(study["groups"], list) or not study["groups"]:
            raise ParamError(f"{where}.groups: expected a list of groups (set, grid, points)")
        for i, group in enumerate(study["groups"]):
            if not isinstance(group, dict) or not set(group) <= {"set", "grid", "points"}:
                raise ParamError(f"{where}.groups[{i}]: expected a section with set, grid and/or points")
            if not all(isinstance(v, list) and v for v in (group.get("grid") or {}).values()):
                raise ParamError(f"{where}.groups[{i}].grid: expected a non-empty list of values per key")
        for setting in study_points(study):
            try:
                validate(apply_overrides(params, setting))
            except ParamError as error:
                raise ParamError(f"{where}: setting {setting}: {error}") from None
    return studies


def load_studies(settings, path=STUDIES) -> dict:
    """conf/studies.yaml, checked against the checked params.yaml `settings`."""
    return check_studies(read_yaml(path), settings, path)
