"""Each default has one source: the models' config dataclasses (the models' sections) and
conf/config.yaml (the rest). conf/config.yaml (what `dvc exp run` composes) and
docs/configuration.md's table must agree with them, and the table has a row for every param;
a registered model without its conf section is named here."""
import dataclasses
import re

import yaml

from hsvae.core.config import defaults_of, key_of
from hsvae.models.registry import VAE_MODELS
from tests.pipeline_utils import ROOT

CONF = yaml.safe_load((ROOT / "conf/config.yaml").read_text())
PARAMS = yaml.safe_load((ROOT / "params.yaml").read_text())  # composed from conf/ (a test keeps them equal)


def test_every_registered_model_has_its_conf_section_with_the_dataclass_defaults():
    for name, spec in VAE_MODELS.items():
        assert spec.section in CONF, f"{name}: conf/config.yaml has no `{spec.section}:` section"
        assert CONF[spec.section] == defaults_of(spec.config), f"{spec.section}: conf/config.yaml != {spec.config}"


def test_a_dataclass_default_changed_is_caught():
    spec = VAE_MODELS["hsvae"]
    changed = dataclasses.make_dataclass("Changed", [(f.name, f.type, dataclasses.field(
        default=8.0 if f.name == "alpha" else f.default, metadata=f.metadata)) for f in dataclasses.fields(spec.config)])
    assert defaults_of(changed) != CONF[spec.section]
    assert [key_of(f) for f in dataclasses.fields(changed)] == list(CONF[spec.section])


def _value(dotted: str):
    value = PARAMS
    for part in dotted.split("."):
        value = value[part]
    return value


def _same(shown: str, value) -> bool:
    if isinstance(value, dict):
        return shown == "/".join(str(v) for v in value.values())
    if isinstance(value, list):
        return yaml.safe_load(shown) == value
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(shown) == float(value)
    return shown == (str(value) or "''")


def documented_defaults() -> list:
    """(key, the default the docs table shows) for each key of docs/configuration.md's params
    table: `data.min_length`, `max_length` | 1, 60 gives two."""
    text = (ROOT / "docs/configuration.md").read_text()
    table = text[text.index("| key | default | meaning |"):].split("\n\n")[0].splitlines()[2:]
    found = []
    for row in table:
        keys_cell, default_cell = (cell.strip() for cell in row.strip("|").split("|")[:2])
        keys = re.findall(r"`([^`]+)`", keys_cell)
        section = keys[0].rsplit(".", 1)[0]
        keys = keys[:1] + [k if "." in k else f"{section}.{k}" for k in keys[1:]]
        values = [default_cell] if len(keys) == 1 else [v.strip() for v in default_cell.split(", ")]
        assert len(values) == len(keys), f"docs/configuration.md: {keys_cell}: {len(keys)} keys, {len(values)} defaults"
        found += list(zip(keys, values))
    return found


def test_the_documented_defaults_are_those_of_conf():
    documented = documented_defaults()
    assert len(documented) > 30
    wrong = [(k, shown, _value(k)) for k, shown in documented if not _same(shown, _value(k))]
    assert wrong == []


def test_every_param_has_a_row_in_the_documented_table():
    """A param added to conf/config.yaml without its row in docs/configuration.md is named
    (a row for `data.per_class` covers its three values)."""
    documented = {k for k, _ in documented_defaults()}

    def undocumented(section: dict, prefix=""):
        for key, value in section.items():
            if prefix + key in documented:
                continue
            if isinstance(value, dict):
                yield from undocumented(value, f"{prefix}{key}.")
            else:
                yield prefix + key

    assert list(undocumented({k: v for k, v in CONF.items() if k != "defaults"})) == []
