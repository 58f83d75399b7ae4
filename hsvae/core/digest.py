"""The project's one hash: of a file, or of a folder's files (their names and bytes). Provenance
records hold it for each input an output was made from; a checkpoint, for the data and code of
its run."""
import hashlib
from pathlib import Path

RECORD = "made_with.json"  # a folder's provenance record: what made the folder, not part of it


def files_of(folder, pattern: str = "*") -> list:
    """The files under `folder` matching `pattern`, sorted; bytecode caches and the folder's
    record left out."""
    return sorted(f for f in Path(folder).rglob(pattern)
                  if f.is_file() and f.name != RECORD and "__pycache__" not in f.parts)


def digest(path, pattern: str = "*") -> str:
    """16 hex digits of SHA-256 over a file's bytes, or over each file of a folder (files_of):
    its path within the folder, its length and its bytes."""
    path, sha = Path(path), hashlib.sha256()
    for file in files_of(path, pattern) if path.is_dir() else [path]:
        data = file.read_bytes()
        sha.update(f"{file.relative_to(path).as_posix() if path.is_dir() else ''}\0{len(data)}\0".encode() + data)
    return sha.hexdigest()[:16]
