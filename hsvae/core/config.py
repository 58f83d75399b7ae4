"""Typed config declarations: a dataclass field per hyperparameter carries its default, its
type and its bounds, and the params check is derived from it (one declaration, no copies).

    @dataclass(frozen=True)
    class HSVAEConfig:
        alpha: float = param(4.0, gt=0, doc="Beta prior on gamma")

`key` names the params.yaml key where it differs from the Python name (`lambda`).
"""
import dataclasses
import math

from hsvae.core.errors import UserError


class ParamError(UserError, ValueError):
    pass


def param(default, *, gt=None, ge=None, le=None, key=None, doc=""):
    return dataclasses.field(default=default, metadata={"gt": gt, "ge": ge, "le": le, "key": key, "doc": doc})


def key_of(field) -> str:
    return field.metadata.get("key") or field.name


def number_rule(kind, gt=None, ge=None, le=None):
    """A check for an int or a finite float within bounds; YAML 1.1 reads `1e-3` as a string,
    so a number written as a string is accepted and converted."""
    def check(key, value):
        if kind is float and isinstance(value, str):
            try:
                value = float(value)
            except ValueError:
                pass
        ok = isinstance(value, (int, float)) and not isinstance(value, bool)
        ok = ok and (float(value).is_integer() and isinstance(value, int) if kind is int else math.isfinite(value))
        ok = ok and (gt is None or value > gt) and (ge is None or value >= ge) and (le is None or value <= le)
        if not ok:
            bounds = [f"> {gt}" if gt is not None else None, f">= {ge}" if ge is not None else None,
                      f"<= {le}" if le is not None else None]
            bounds = " and ".join(b for b in bounds if b)
            name = "an integer" if kind is int else "a finite number"
            raise ParamError(f"{key} = {value!r}: expected {name}{' ' + bounds if bounds else ''}")
        return kind(value)
    return check


def pair_rule(low, high):
    def check(key, value):
        if not (isinstance(value, (list, tuple)) and len(value) == 2
                and all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in value)
                and low <= value[0] <= value[1] <= high):
            raise ParamError(f"{key} = {value!r}: expected [low, high] with {low} <= low <= high <= {high}")
        return [float(v) for v in value]
    return check


def field_rule(field):
    meta = field.metadata
    if field.type in (float, "float"):
        return number_rule(float, meta["gt"], meta["ge"], meta["le"])
    if field.type in (int, "int"):
        return number_rule(int, meta["gt"], meta["ge"], meta["le"])
    if field.type in ("tuple[float, float]",) or isinstance(field.default, tuple):
        return pair_rule(meta["ge"], meta["le"])
    raise TypeError(f"{field.name}: no rule for type {field.type}")


def schema_of(config_class) -> dict:
    """params.yaml key -> check, for every field of `config_class`."""
    return {key_of(f): field_rule(f) for f in dataclasses.fields(config_class)}


def defaults_of(config_class) -> dict:
    """The params.yaml section of `config_class`'s defaults."""
    return {key_of(f): list(f.default) if isinstance(f.default, tuple) else f.default
            for f in dataclasses.fields(config_class)}


def from_section(config_class, section: dict):
    """An instance of `config_class` from its (validated) params.yaml section."""
    names = {key_of(f): f.name for f in dataclasses.fields(config_class)}
    values = {names[k]: tuple(v) if isinstance(v, list) else v for k, v in section.items()}
    return config_class(**values)
