"""params.yaml: loading and one schema that every stage (and `hsvae study`) checks first.

params.yaml is composed from conf/ (config.yaml and the preset group) by `dvc exp run`, so
what DVC records is what the stages use; stages read params.yaml and never overlay anything.
A wrong value fails at once with one line naming the key, the value and what is allowed.
"""
import re
from pathlib import Path

import yaml

from hsvae.core.config import ParamError, number_rule, pair_rule, schema_of
from hsvae.data.corpora import CORPORA
from hsvae.models.registry import BASELINES, VAE_MODELS

__all__ = ["ParamError", "load", "read_yaml", "validate", "compose"]


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


def validate(params: dict) -> dict:
    """Check `params` against the schema; return them with numbers in their declared types."""
    checked = _check(schema(), params, "")
    _check_relations(checked)
    return checked


class _UniqueKeyLoader(yaml.SafeLoader):
    """YAML as DVC reads it: a key given twice in one section is an error, not the last value."""

    def construct_mapping(self, node, deep=False):
        seen = set()
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=True)
            if key in seen:
                raise ParamError(f"line {key_node.start_mark.line + 1}: duplicate key {key!r}; give it once")
            seen.add(key)
        return super().construct_mapping(node, deep)


def read_yaml(path):
    """The YAML file `path`; a missing file, bad YAML or a duplicate key is one line naming it."""
    path = Path(path)
    try:
        return yaml.load(path.read_text(encoding="utf-8"), Loader=_UniqueKeyLoader)
    except FileNotFoundError:
        raise ParamError(f"{path}: not found (run from the repository root)") from None
    except ParamError as error:
        raise ParamError(f"{path}, {error}") from None
    except (yaml.YAMLError, UnicodeDecodeError) as error:
        raise ParamError(f"{path}: not valid YAML ({error})".replace("\n", " ")) from None


def load(path="params.yaml") -> dict:
    path = Path(path)
    params = read_yaml(path)
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
