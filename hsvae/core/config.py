"""Settings declared once: each params.yaml section is a pydantic model whose fields carry the
type, bounds, default and description of each key; validation, conf/config.yaml and
docs/configuration.md's table derive from them (hsvae/pipeline/params.py, `hsvae settings`).

    class HSVAEConfig(Section):
        alpha: Real = Field(4.0, gt=0, description="Beta prior on gamma")

A validation error is one line naming the dotted key, the value and what is allowed.
"""
import math
from typing import Annotated, Literal, Union, get_args, get_origin

import annotated_types
from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, ValidationError

from hsvae.core.errors import UserError


class ParamError(UserError, ValueError):
    pass


def _yaml_number(value):
    # YAML 1.1 (PyYAML, DVC) reads `1e-3` as a string: accept a number written so
    if isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            pass
    return value


# A finite real number: strict (a bool or a word is refused), with YAML 1.1's `1e-3` read as 1e-3.
Real = Annotated[float, BeforeValidator(_yaml_number)]


def interval(low: float, high: float):
    """A [low, high] pair within [`low`, `high`] (YAML's list read as a tuple)."""
    def check(value):
        if not (isinstance(value, (list, tuple)) and len(value) == 2
                and all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in value)
                and low <= value[0] <= value[1] <= high):
            raise ValueError(f"expected [low, high] with {low} <= low <= high <= {high}")
        return tuple(float(v) for v in value)
    return Annotated[tuple[float, float], BeforeValidator(check)]


class Section(BaseModel):
    """A params.yaml section: every key known, typed and bounded, frozen once read."""
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True, allow_inf_nan=False,
                              populate_by_name=True, validate_default=False)

    def params(self) -> dict:
        """The section as params.yaml writes it (aliases such as `lambda`, lists for tuples; a
        section left out, None, is not written)."""
        return self.model_dump(mode="json", by_alias=True, exclude_none=True)


def keys_of(model: type) -> list:
    """The params.yaml keys of a section, in declaration order."""
    return [field.alias or name for name, field in model.model_fields.items()]


def _bounds(metadata) -> str:
    words = {annotated_types.Gt: ("gt", ">"), annotated_types.Ge: ("ge", ">="), annotated_types.Le: ("le", "<="),
             annotated_types.Lt: ("lt", "<")}
    found = [f"{words[type(m)][1]} {getattr(m, words[type(m)][0])}" for m in metadata if type(m) in words]
    return " and ".join(found)


def expected(annotation, metadata=()) -> str:
    """What a value of this type must be, in words: 'an integer >= 1', 'one of fp32, bf16'; ''
    for a type with a rule of its own, which says what it expects when it refuses a value."""
    if get_origin(annotation) is Annotated:
        annotation, *extra = get_args(annotation)
        return expected(annotation, [*metadata, *extra])
    if any(isinstance(m, AfterValidator) for m in metadata) or get_origin(annotation) in (list, tuple):
        return ""
    bounds = _bounds(metadata)
    if get_origin(annotation) is Literal:
        return "one of " + ", ".join(map(str, get_args(annotation)))
    if get_origin(annotation) is Union:
        return " or ".join(expected(a) for a in get_args(annotation))
    name = {int: "an integer", float: "a finite number", str: "a string", bool: "true or false"}.get(annotation)
    if name is None:
        return "a section" if isinstance(annotation, type) and issubclass(annotation, BaseModel) else ""
    return f"{name} {bounds}".strip()


def _field(model: type, loc: tuple):
    """The FieldInfo a pydantic error location points at (list indices skipped)."""
    field = None
    for part in loc:
        if isinstance(part, int) or model is None:
            continue
        by_key = {f.alias or n: f for n, f in model.model_fields.items()}
        field = by_key.get(part)
        if field is None:
            return None, model
        annotation = field.annotation
        model = annotation if isinstance(annotation, type) and issubclass(annotation, BaseModel) else None
    return field, model


def _value_at(values, loc):
    for part in loc:
        values = values[part]
    return values


def _render(value) -> str:
    return repr(value) if not (isinstance(value, float) and not math.isfinite(value)) else str(value)


def one_line(error: ValidationError, model: type, values: dict) -> str:
    """The first problem of `error` as 'key = value: expected …', 'key: unknown key; expected
    one of …' or 'key: missing'."""
    first = error.errors()[0]
    loc = tuple(first["loc"])
    dotted = ".".join(str(p) for p in loc if not isinstance(p, int))
    if first["type"] == "extra_forbidden":
        _, parent = _field(model, loc[:-1]) if len(loc) > 1 else (None, model)
        return f"{dotted}: unknown key; expected one of {', '.join(keys_of(parent))}"
    if first["type"] == "missing":
        return f"{dotted}: missing"
    field_loc = tuple(p for p in loc if not isinstance(p, int))
    value = _value_at(values, field_loc) if field_loc else values
    if first["type"] == "value_error":  # a validator's own words
        return f"{dotted or 'params'} = {_render(value)}: {str(first['ctx']['error'])}"
    field, _ = _field(model, field_loc)
    what = (expected(field.annotation, field.metadata) if field is not None else "") or first["msg"]
    if what == "a section":
        keys = keys_of(field.annotation)
        return f"{dotted} = {value!r}: expected a section with keys {', '.join(keys)}"
    return f"{dotted} = {_render(value)}: expected {what}"


def check(model: type, values, where: str = ""):
    """`values` as an instance of `model`; every key must be given (a default is the
    declaration's, not a silent fill-in); a problem is one ParamError line."""
    missing = _missing(model, values, "")
    if missing:
        raise ParamError(f"{where}{missing}: missing")
    try:
        return model.model_validate(values)
    except ValidationError as error:
        raise ParamError(where + one_line(error, model, values)) from None


def _missing(model: type, values, prefix: str):
    if not isinstance(values, dict):
        return None
    for name, field in model.model_fields.items():
        key = field.alias or name
        if key not in values:
            return prefix + key
        annotation = field.annotation
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            found = _missing(annotation, values[key], f"{prefix}{key}.")
            if found:
                return found
    return None
