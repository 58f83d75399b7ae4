"""params.yaml: loading and one schema that every stage (and `hsvae study`) checks first.

params.yaml is composed from conf/ (config.yaml and the preset group) by `dvc exp run`, so
what DVC records is what the stages use; stages read params.yaml and never overlay anything.
A wrong value fails at once with one line naming the key, the value and what is allowed.
"""
import copy
import itertools
import re
from pathlib import Path

import yaml

from hsvae.config import ParamError, number_rule, pair_rule, schema_of
from hsvae.data.corpora import CORPORA
from hsvae.models.registry import VAE_MODELS

__all__ = ["ParamError", "load", "validate", "compose", "study_points", "apply_overrides"]

BASELINES = ("classifier", "bert")


def _choice(*allowed):
    def check(key, value):
        if value not in allowed:
            raise ParamError(f"{key} = {value!r}: expected one of {', '.join(map(str, allowed))}")
        return value
    return check


def _string(key, value):
    if not isinstance(value, str):
        raise ParamError(f"{key} = {value!r}: expected a string")
    return value


def _device(key, value):
    if not (isinstance(value, str) and (value in ("auto", "cpu", "cuda") or re.fullmatch(r"cuda:\d+", value))):
        raise ParamError(f"{key} = {value!r}: expected auto, cpu, cuda or cuda:N")
    return value


def _subset(*allowed, empty=True):
    def check(key, value):
        if (not isinstance(value, list) or any(v not in allowed for v in value) or len(set(value)) != len(value)
                or (not empty and not value)):
            raise ParamError(f"{key} = {value!r}: expected a list of distinct names from {', '.join(allowed)}"
                             f"{'' if empty else ' (at least one)'}")
        return value
    return check


def _latent_dim(key, value):
    # Average Hoyer is 0/0 for one dimension: refuse it before hours of training.
    number_rule(int, ge=2)(key, value)
    return value


COUNT = number_rule(int, ge=1)
SEED = number_rule(int, ge=0)
POSITIVE = number_rule(float, gt=0)
WEIGHT = number_rule(float, ge=0)


def schema() -> dict:
    """Every params key and its rule. Built from the model registry when called, so a model
    registered at run time (one class and one VAE_MODELS entry) has its section checked too."""
    return {
        "preset": _string,
        "data": {
            "corpus": _choice(*CORPORA),
            "seed": SEED,
            "local_dir": _string,
            "source_dir": _string,
            "per_class": {"train": COUNT, "valid": COUNT, "test": COUNT},
            "min_length": number_rule(int, ge=0),
            "max_length": COUNT,
            "vocab_size": COUNT,
            "oversample": number_rule(float, ge=1),
            "workers": COUNT,
            "synthetic": {
                "classes": number_rule(int, ge=2),
                "signal": number_rule(float, ge=0, le=1),
                "background_vocab": COUNT,
                "topic_words": COUNT,
                "mean_phrases": pair_rule(0, 100),
            },
        },
        "arch": {"embedding_dim": COUNT, "hidden_dim": COUNT, "latent_dim": _latent_dim, "bert": _string},
        "train": {
            "seed": SEED,
            "device": _device,
            "precision": _choice("fp32", "tf32", "bf16", "fp16", "auto"),
            "cuda_graphs": _choice("auto", True, False),
            "epochs": COUNT,
            "batch_size": number_rule(int, ge=2),
            "eval_batch_size": COUNT,
            "lr": POSITIVE,
            "bert_lr": POSITIVE,
            "grad_clip": WEIGHT,
            "ce_chunk": number_rule(int, ge=0),
        },
        "models": _subset(*VAE_MODELS, empty=False),
        "baselines": _subset(*BASELINES),
        # one section per params section of the registry, derived from the models' config classes
        **{spec.section: schema_of(spec.config) for spec in VAE_MODELS.values()},
        "classify": {"samples": COUNT, "hidden": COUNT, "epochs": COUNT, "batch_size": COUNT, "lr": POSITIVE},
        "analyze": {"window": COUNT},
        "studies": lambda key, value: value,  # checked by check_studies, after the rest
    }


def _check(rules: dict, values, prefix: str) -> dict:
    """`values` checked against `rules`, with numbers converted to their declared type."""
    if not isinstance(values, dict):
        raise ParamError(f"{prefix.rstrip('.') or 'params'} = {values!r}: expected a section with keys "
                         f"{', '.join(rules)}")
    for key in values:
        if key not in rules:
            raise ParamError(f"{prefix}{key}: unknown key; expected one of {', '.join(rules)}")
    out = {}
    for key, rule in rules.items():
        if key not in values:
            raise ParamError(f"{prefix}{key}: missing")
        if isinstance(rule, dict):
            out[key] = _check(rule, values[key], f"{prefix}{key}.")
        else:
            converted = rule(f"{prefix}{key}", values[key])
            out[key] = values[key] if converted is None else converted
    return out


def _check_relations(params: dict):
    data = params["data"]
    if data["min_length"] > data["max_length"]:
        raise ParamError(f"data.min_length = {data['min_length']}: expected <= data.max_length = {data['max_length']}")
    if data["corpus"] == "local" and not data["local_dir"]:
        raise ParamError("data.local_dir = '': expected the folder of the local corpus when data.corpus = local")


def validate(params: dict, studies=True) -> dict:
    """Check `params` against the schema; return them with numbers in their declared types."""
    checked = _check(schema(), params, "")
    _check_relations(checked)
    if studies:
        check_studies(checked)
    return checked


def load(path="params.yaml") -> dict:
    path = Path(path)
    try:
        params = yaml.safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ParamError(f"{path}: not found (run the stages from the repository root)") from None
    except (yaml.YAMLError, UnicodeDecodeError) as error:
        raise ParamError(f"{path}: not valid YAML ({error})".replace("\n", " ")) from None
    try:
        return validate(params)
    except ParamError as error:
        raise ParamError(f"{path}: {error}") from None


def compose(overrides=(), conf="conf") -> dict:
    """params.yaml as `dvc exp run` composes it from conf/ with Hydra overrides; an override
    Hydra refuses (an unknown key, a bad value) is a one-line ParamError."""
    from hydra import compose as hydra_compose
    from hydra import initialize_config_dir
    from omegaconf import OmegaConf

    with initialize_config_dir(str(Path(conf).resolve()), version_base=None):
        try:
            composed = hydra_compose("config", overrides=list(overrides))
        except Exception as error:  # Hydra's errors for an unknown key or a bad value: one line
            raise ParamError(f"-S {' '.join(overrides)}: {str(error).splitlines()[0]}") from None
        return OmegaConf.to_container(composed, resolve=True)


# ---- studies: named grids over params, run by `hsvae study run NAME`

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


def check_studies(params: dict):
    """Each study: replicates >= 1, groups of set/grid/points; every setting, applied to the
    params, must pass the schema (so a bad point fails before any run starts)."""
    studies = params["studies"]
    if not isinstance(studies, dict):
        raise ParamError(f"studies = {studies!r}: expected a section of named studies")
    for name, study in studies.items():
        where = f"studies.{name}"
        if not isinstance(study, dict) or set(study) != {"replicates", "groups"}:
            raise ParamError(f"{where}: expected the keys replicates and groups")
        number_rule(int, ge=1)(f"{where}.replicates", study["replicates"])
        if not isinstance(study["groups"], list) or not study["groups"]:
            raise ParamError(f"{where}.groups: expected a list of groups (set, grid, points)")
        for i, group in enumerate(study["groups"]):
            if not isinstance(group, dict) or not set(group) <= {"set", "grid", "points"}:
                raise ParamError(f"{where}.groups[{i}]: expected a section with set, grid and/or points")
            if not all(isinstance(v, list) and v for v in (group.get("grid") or {}).values()):
                raise ParamError(f"{where}.groups[{i}].grid: expected a non-empty list of values per key")
        base = {k: v for k, v in params.items() if k != "studies"}
        for setting in study_points(study):
            try:
                validate({**apply_overrides(base, setting), "studies": {}}, studies=False)
            except ParamError as error:
                raise ParamError(f"{where}: setting {setting}: {error}") from None
