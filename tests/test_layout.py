"""The package's layers: every project import points to the module's own layer or one below it."""
from tests.imports import ROOT, imported_modules

# Bottom to top, as README's Layout section lists them.
LAYERS = [
    {"hsvae", "hsvae.core.errors", "hsvae.core.atomic", "hsvae.core.config", "hsvae.core.device"},
    {"hsvae.data"}, {"hsvae.models"}, {"hsvae.analysis"}, {"hsvae.training"}, {"hsvae.pipeline"},
    {"hsvae.studies", "hsvae.encode"}, {"hsvae.cli", "hsvae.__main__"},
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
