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
        todo.extend(f for f in map(module_file, _imported(path)) if f is not None)
    return {str(p.relative_to(ROOT)) for p in seen if p.name != "__init__.py" or p.stat().st_size}
