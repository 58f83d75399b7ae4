"""conf/config.yaml and docs/configuration.md's table of params, written from the settings'
declarations (hsvae/pipeline/params.py: each field's type, bounds, default and description),
so neither is edited by hand: `python -m hsvae.pipeline.conf` rewrites both, and
tests/test_defaults.py fails while either differs from what this writes."""
import sys
import textwrap
from pathlib import Path

import yaml
from pydantic import BaseModel

from hsvae.core.config import expected
from hsvae.pipeline.params import settings_model

HEADER = """\
# Every knob of the pipeline, written from the settings' declarations by `python -m
# hsvae.pipeline.conf` (edit those, not this file). `dvc exp run` composes params.yaml from this
# file and the chosen preset (conf/preset/); `-S key=value` overrides one value, `-S preset=paper`
# picks the preset. `dvc repro` reads params.yaml as it is, so a hand edit there holds for `dvc repro`.
defaults:
  - _self_
  - preset: default
"""
TABLE_START = "<!-- params table: written by `python -m hsvae.pipeline.conf` -->"
TABLE_END = "<!-- end of the params table -->"
WIDTH = 110
COMMENT_COLUMN = 27


def yaml_value(value) -> str:
    """A default as conf/config.yaml writes it: plain decimals (YAML 1.1 reads `8e-05` as a
    string), flow-style lists, '' for the empty string."""
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, float):
        text = f"{value:.10f}".rstrip("0")
        return text + "0" if text.endswith(".") else text
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(yaml_value(v) for v in value) + "]"
    if isinstance(value, str):  # plain where YAML reads it back as this string ('', 'true' are quoted)
        return value if value and yaml.safe_load(value) == value else repr(value)
    return str(value)


def _leaves(model: type, values: dict, prefix=""):
    """(dotted key, field, default) for every leaf of a section, in declaration order."""
    for name, field in model.model_fields.items():
        key = field.alias or name
        if isinstance(field.annotation, type) and issubclass(field.annotation, BaseModel):
            yield from _leaves(field.annotation, values[key], f"{prefix}{key}.")
        else:
            yield f"{prefix}{key}", field, values[key]


def _commented(line: str, description: str) -> list:
    column = max(COMMENT_COLUMN, len(line) + 1)
    wrapped = textwrap.wrap(description, WIDTH - column - 2) or [""]
    first = f"{line.ljust(column)}# {wrapped[0]}" if description else line
    return [first, *(" " * column + f"# {rest}" for rest in wrapped[1:])]


def _section_lines(model: type, values: dict, indent: int) -> list:
    lines = []
    for name, field in model.model_fields.items():
        key, pad = field.alias or name, "  " * indent
        if key == "preset":  # the defaults list chooses it, and each preset file names itself
            continue
        if isinstance(field.annotation, type) and issubclass(field.annotation, BaseModel):
            doc = (field.annotation.__doc__ or "").strip().split("\n\n")[0]
            lines += _commented(f"{pad}{key}:", " ".join(doc.split()))
            lines += _section_lines(field.annotation, values[key], indent + 1)
        else:
            lines += _commented(f"{pad}{key}: {yaml_value(values[key])}", field.description or "")
    return lines


def config_yaml() -> str:
    """conf/config.yaml: the header, then every section with each key's default and description."""
    model = settings_model()
    defaults = model().params()
    lines = []
    for line in _section_lines(model, defaults, 0):
        if not line.startswith((" ", "#")) and lines:  # a blank line before each section
            lines.append("")
        lines.append(line)
    return HEADER + "\n" + "\n".join(lines) + "\n"


def params_table() -> str:
    """docs/configuration.md's table: every key, its default, what it may be, what it does."""
    model = settings_model()
    rows = ["| key | default | allowed | meaning |", "|---|---|---|---|"]
    for key, field, default in _leaves(model, model().params()):
        allowed = expected(field.annotation, field.metadata)
        cells = [f"`{key}`", f"`{yaml_value(default)}`", allowed, field.description or ""]
        rows.append("| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |")
    return "\n".join(rows)


def with_table(page: str) -> str:
    """The docs page with its params table replaced by params_table()."""
    start, end = page.index(TABLE_START) + len(TABLE_START), page.index(TABLE_END)
    return page[:start] + "\n" + params_table() + "\n" + page[end:]


def main(root=Path(".")):
    (root / "conf/config.yaml").write_text(config_yaml(), encoding="utf-8")
    docs = root / "docs/configuration.md"
    docs.write_text(with_table(docs.read_text(encoding="utf-8")), encoding="utf-8")


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else Path("."))
