"""The package's layers: every project import points to the module's own layer or one below it."""
import subprocess
import sys

from tests.imports import ROOT, imported_modules

# Bottom to top, as README's Layout section lists them.
LAYERS = [
    {"hsvae", "hsvae.core.errors", "hsvae.core.atomic", "hsvae.core.config", "hsvae.core.device", "hsvae.core.digest"},
    {"hsvae.data"}, {"hsvae.models"}, {"hsvae.analysis"}, {"hsvae.training"}, {"hsvae.pipeline"},
    {"hsvae.studies", "hsvae.encode", "hsvae.crosscheck", "hsvae.findings"}, {"hsvae.cli", "hsvae.__main__"},
]


def layer(module: str) -> int:
    """The layer of a module: the deepest listed name that is the module or a package above it."""
    parts = module.split(".")
    for depth in range(len(parts), 0, -1):
        name = ".".join(parts[:depth])
        for rank, names in enumerate(LAYERS):
            if name in names:
                return rank
    raise AssertionError(f"{module} is in no layer of tests/test_layout.py")


def test_imports_run_one_way():
    upward = []
    for path in sorted((ROOT / "hsvae").rglob("*.py")):
        module = ".".join(path.relative_to(ROOT).with_suffix("").parts).removesuffix(".__init__")
        for target in imported_modules(path):
            if target.split(".")[0] == "hsvae" and layer(target) > layer(module):
                upward.append(f"{module} -> {target}")
    assert upward == []


def test_the_layer_check_sees_an_upward_import():
    assert layer("hsvae.models.vae") > layer("hsvae.data.batching")
    assert layer("hsvae.training.train") > layer("hsvae.analysis.evaluation")
    assert layer("hsvae.data.download") < layer("hsvae.pipeline.stage")


def test_stages_start_without_the_libraries_they_do_not_use():
    """A stage is a process of its own: the data stages import no torch, and no stage scikit-learn
    (each costs seconds of start-up: docs/performance.md)."""
    code = ("import sys, stages.download, stages.preprocess; early = set(sys.modules); "
            "import stages.pretrain, stages.classify, stages.baseline, stages.analyze; "
            "print(sorted({'torch', 'sklearn'} & {m.split('.')[0] for m in early}), "
            "sorted({'sklearn'} & {m.split('.')[0] for m in sys.modules}))")
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    assert result.stdout.split() == ["[]", "[]"]
