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
    missing = {m for m in needed if not any(m == d or m.startswith(d.rstrip("/") + "/") for d in declared)}
    assert script in needed and missing == set(), f"{name}: dvc.yaml deps miss {sorted(missing)}"
    for dep in declared:
        if dep.startswith(("hsvae", "stages")):
            assert (ROOT / dep).exists(), f"{name}: {dep} does not exist"
            if dep.endswith(".py"):
                assert dep in needed, f"{name}: {dep} is listed but not imported"


def test_data_stages_import_no_model_code():
    for name in ("download", "preprocess"):
        script = ROOT / "stages" / f"{name}.py"
        assert not [m for m in project_imports(script) if m.startswith(("hsvae/models", "hsvae/training"))]


def test_the_import_walk_sees_transitive_imports():
    """stages/pretrain.py reaches hsvae/models/chunked_ce.py only through models -> nets."""
    assert "hsvae/models/chunked_ce.py" in project_imports(ROOT / "stages/pretrain.py")
    assert "hsvae/analysis/figures.py" not in project_imports(ROOT / "stages/pretrain.py")
