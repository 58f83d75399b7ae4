"""dvc.yaml's code dependencies are complete: every project module a stage's script imports,
transitively, is a dependency of that stage (a missing one lets DVC serve a stale result)."""
import re

import pytest
import yaml

from tests.imports import ROOT, project_imports

STAGES = yaml.safe_load((ROOT / "dvc.yaml").read_text())["stages"]


@pytest.mark.parametrize("name", list(STAGES))
def test_every_imported_project_module_is_a_dependency(name):
    stage = STAGES[name]
    script = re.search(r"python -m (stages\.\w+)", stage["cmd"]).group(1).replace(".", "/") + ".py"
    needed = project_imports(ROOT / script)
    declared = set(stage["deps"])
    assert script in needed and needed - declared == set(), f"{name}: dvc.yaml deps miss {sorted(needed - declared)}"
    for dep in declared:
        if dep.endswith(".py"):
            assert (ROOT / dep).is_file(), f"{name}: {dep} does not exist"


def test_the_import_walk_sees_transitive_imports():
    """stages/pretrain.py reaches hsvae/models/chunked_ce.py only through models -> nets."""
    assert "hsvae/models/chunked_ce.py" in project_imports(ROOT / "stages/pretrain.py")
    assert "hsvae/analysis/figures.py" not in project_imports(ROOT / "stages/pretrain.py")
