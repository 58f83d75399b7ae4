"""Each setting has one declaration (type, bound, default, description: hsvae/pipeline/params.py
and the sections beside their code); conf/config.yaml and docs/configuration.md's table are
written from it by `python -m hsvae.pipeline.conf`. These tests fail while either differs,
and show that a changed declaration reaches both."""
import shutil
import subprocess
import sys

import yaml

from hsvae.pipeline.conf import config_yaml, with_table
from hsvae.pipeline.params import settings_model, validate
from tests.pipeline_utils import ROOT


def test_conf_and_the_docs_table_are_written_from_the_declarations():
    assert (ROOT / "conf/config.yaml").read_text() == config_yaml(), "run `python -m hsvae.pipeline.conf`"
    docs = (ROOT / "docs/configuration.md").read_text()
    assert docs == with_table(docs), "run `python -m hsvae.pipeline.conf`"


def test_the_declared_defaults_are_what_conf_composes():
    """conf/config.yaml (what `dvc exp run` composes with the default preset) holds the
    declarations' defaults, every key of them, each one validated."""
    conf = yaml.safe_load((ROOT / "conf/config.yaml").read_text())
    conf.pop("defaults")
    declared = settings_model()().params()
    declared.pop("preset")
    assert conf == declared
    assert validate({**conf, "preset": "default"}) == settings_model()()


def test_a_changed_declaration_reaches_conf_and_the_docs(tmp_path):
    """HSVAE's alpha declared 8.0 instead of 4.0, in a copy: the command writes 8.0 into
    conf/config.yaml and the docs table, and touches no other line."""
    for folder in ("hsvae", "conf", "docs"):
        shutil.copytree(ROOT / folder, tmp_path / folder, ignore=shutil.ignore_patterns("__pycache__"))
    module = tmp_path / "hsvae/models/hsvae.py"
    text = module.read_text()
    assert "alpha: Real = Field(4.0," in text
    module.write_text(text.replace("alpha: Real = Field(4.0,", "alpha: Real = Field(8.0,"))
    subprocess.run([sys.executable, "-m", "hsvae.pipeline.conf", str(tmp_path)], cwd=tmp_path, check=True)
    for name in ("conf/config.yaml", "docs/configuration.md"):
        before, after = (ROOT / name).read_text().splitlines(), (tmp_path / name).read_text().splitlines()
        changed = [(a, b) for a, b in zip(before, after) if a != b]
        assert len(before) == len(after) and len(changed) == 1, name
        assert "alpha" in changed[0][1] and "8.0" in changed[0][1] and "4.0" in changed[0][0], changed
