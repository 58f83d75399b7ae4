"""params.yaml: loading, the `preset` overlay, and one schema that every stage checks first.

A wrong value fails at once with one line naming the key, the value and what is allowed.
"""
import copy
from pathlib import Path

import yaml

from hsvae.corpora import CORPORA
from hsvae.models import VAE_MODELS

BASELINES = ("classifier", "bert")


class ParamError(ValueError):
    pass


def _number(kind, low=None, high=None, low_open=False):
    def check(key, value):
        ok = isinstance(value, kind) and not isinstance(value, bool)
        if kind is float:
            ok = isinstance(value, (int, float)) and not isinstance(value, bool)
        if ok and low is not None:
            ok = value > low if low_open else value >= low
        if ok and high is not None:
            ok = value <= high
        if not ok:
            name = "an integer" if kind is int else "a number"
            bounds = []
            if low is not None:
                bounds.append(f"{'>' if low_open else '>='} {low}")
            if high is not None:
                bounds.append(f"<= {high}")
            raise ParamError(f"{key} = {value!r}: expected {name}{' ' + ' and '.join(bounds) if bounds else ''}")
    return check


def _choice(*allowed):
    def check(key, value):
        if value not in allowed:
            raise ParamError(f"{key} = {value!r}: expected one of {', '.join(map(str, allowed))}")
    return check


def _string(key, value):
    if not isinstance(value, str):
        raise ParamError(f"{key} = {value!r}: expected a string")


def _device(key, value):
    if not (isinstance(value, str) and (value in ("auto", "cpu", "cuda") or value.startswith("cuda:"))):
        raise ParamError(f"{key} = {value!r}: expected auto, cpu, cuda or cuda:N")


def _subset(*allowed):
    def check(key, value):
        if not isinstance(value, list) or any(v not in allowed for v in value) or len(set(value)) != len(value):
            raise ParamError(f"{key} = {value!r}: expected a list of distinct names from {', '.join(allowed)}")
    return check


def _pair(low, high):
    def check(key, value):
        if not (isinstance(value, list) and len(value) == 2 and all(isinstance(v, (int, float)) for v in value)
                and low <= value[0] <= value[1] <= high):
            raise ParamError(f"{key} = {value!r}: expected [low, high] with {low} <= low <= high <= {high}")
    return check


def _any(key, value):
    pass


POSITIVE = _number(float, 0, low_open=True)
WEIGHT = _number(float, 0)
COUNT = _number(int, 1)
_HSVAE = {"alpha": POSITIVE, "beta": POSITIVE, "psi": WEIGHT, "lambda": WEIGHT, "temperature": POSITIVE,
          "spike_scale": POSITIVE, "beta_clamp": _pair(1e-3, 1e4)}

SCHEMA = {
    "seed": _number(int, 0),
    "preset": _choice("default", "paper"),
    "presets": _any,
    "data": {
        "corpus": _choice(*CORPORA),
        "local_dir": _string,
        "per_class": {"train": COUNT, "valid": COUNT, "test": COUNT},
        "min_length": _number(int, 0),
        "max_length": COUNT,
        "vocab_size": COUNT,
        "oversample": _number(float, 1),
        "workers": COUNT,
        "synthetic": {
            "classes": _number(int, 2),
            "signal": _number(float, 0, 1),
            "background_vocab": COUNT,
            "topic_words": COUNT,
            "mean_phrases": _pair(0, 100),
        },
    },
    "arch": {"embedding_dim": COUNT, "hidden_dim": COUNT, "latent_dim": COUNT, "bert": _string},
    "train": {
        "device": _device,
        "precision": _choice("fp32", "bf16", "fp16", "auto"),
        "epochs": COUNT,
        "batch_size": _number(int, 2),
        "eval_batch_size": COUNT,
        "lr": POSITIVE,
        "bert_lr": POSITIVE,
        "grad_clip": WEIGHT,
        "ce_chunk": _number(int, 0),
    },
    "models": _subset(*VAE_MODELS),
    "baselines": _subset(*BASELINES),
    "vae": {"psi": WEIGHT},
    "vae_l1": {"psi": WEIGHT, "weight": WEIGHT},
    "vae_l2": {"psi": WEIGHT, "weight": WEIGHT},
    "mat_vae": {"psi": WEIGHT, "lambda": WEIGHT, "gamma": _number(float, 0, 1), "spike_scale": POSITIVE},
    "hsvae": _HSVAE,
    "b_vae": {"psi": WEIGHT},
    "b_hsvae": _HSVAE,
    "classify": {"samples": COUNT, "hidden": COUNT, "epochs": COUNT, "batch_size": COUNT, "lr": POSITIVE},
    "analyze": {"window": COUNT, "active_threshold": WEIGHT},
}


def _check(schema: dict, values, prefix: str):
    if not isinstance(values, dict):
        raise ParamError(f"{prefix.rstrip('.')} = {values!r}: expected a section with keys {', '.join(schema)}")
    for key in values:
        if key not in schema:
            raise ParamError(f"{prefix}{key}: unknown key; expected one of {', '.join(schema)}")
    for key, rule in schema.items():
        if key not in values:
            raise ParamError(f"{prefix}{key}: missing")
        if isinstance(rule, dict):
            _check(rule, values[key], f"{prefix}{key}.")
        else:
            rule(f"{prefix}{key}", values[key])


def _overlay(base: dict, changes: dict) -> dict:
    merged = copy.deepcopy(base)
    for key, value in changes.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = _overlay(merged[key], value)
        else:
            merged[key] = copy.deepcopy(value)
    return merged


def validate(params: dict) -> dict:
    """Check `params` against the schema and return them with the preset applied."""
    _check(SCHEMA, params, "")
    if params["preset"] != "default":
        if params["preset"] not in (params["presets"] or {}):
            raise ParamError(f"preset = {params['preset']!r}: not defined under presets")
        params = _overlay(params, params["presets"][params["preset"]])
        _check(SCHEMA, params, f"presets.{params['preset']} -> ")
    data = params["data"]
    if data["min_length"] > data["max_length"]:
        raise ParamError(f"data.min_length = {data['min_length']}: expected <= data.max_length = {data['max_length']}")
    if data["corpus"] == "local" and not data["local_dir"]:
        raise ParamError("data.local_dir = '': expected the folder of the local corpus when data.corpus = local")
    return params


def load(path="params.yaml") -> dict:
    path = Path(path)
    try:
        params = yaml.safe_load(path.read_text())
    except FileNotFoundError:
        raise ParamError(f"{path}: not found (run the stages from the repository root)") from None
    except yaml.YAMLError as error:
        raise ParamError(f"{path}: not valid YAML ({error})".replace("\n", " ")) from None
    try:
        return validate(params)
    except ParamError as error:
        raise ParamError(f"{path}: {error}") from None
