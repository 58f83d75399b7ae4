"""The project modules a script imports, transitively (for the dvc.yaml dependency test)."""
import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _imported(path: Path):
    tree = ast.parse(path.read_text())
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            yield from (a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            yield node.module
            yield from (f"{node.module}.{a.name}" for a in node.names)


def imported_modules(path: Path) -> set:
    """The project modules (dotted names) that `path` imports directly."""
    found = set()
    for name in _imported(path):
        while name and module_file(name) is None:  # `from hsvae.x import function`: the module is hsvae.x
            name = name.rpartition(".")[0]
        if name:
            found.add(name)
    return found


def _with_packages(name: str):
    """A module and the packages above it: importing hsvae.data.batching runs hsvae/__init__.py
    and hsvae/data/__init__.py first."""
    parts = name.split(".")
    return (".".join(parts[:i]) for i in range(1, len(parts) + 1))


def module_file(name: str):
    parts = name.split(".")
    if parts[0] not in ("hsvae", "stages"):
        return None
    for candidate in (ROOT.joinpath(*parts).with_suffix(".py"), ROOT.joinpath(*parts, "__init__.py")):
        if candidate.is_file():
            return candidate
    return None


def project_imports(script: Path) -> set:
    """Repository-relative paths of every project module `script` needs, itself included."""
    seen, todo = set(), [script]
    while todo:
        path = todo.pop()
        if path in seen:
            continue
        seen.add(path)
        names = {package for name in _imported(path) for package in _with_packages(name)}
        todo.extend(f for f in map(module_file, names) if f is not None)
    return {str(p.relative_to(ROOT)) for p in seen if p.name != "__init__.py" or p.stat().st_size}
