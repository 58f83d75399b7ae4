"""Outputs appear whole or not at all: write to a temporary sibling, then rename into place."""
import contextlib
import errno
import json
import os
import shutil
from pathlib import Path

from hsvae.core.errors import UserError

# Below this many free bytes a failed write is reported as a full disk (torch.save and other
# writers report ENOSPC as their own errors, e.g. "unexpected pos").
NEARLY_FULL = 16 * 2**20


def _size(path: Path) -> int:
    if path.is_dir():
        return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())
    return path.stat().st_size if path.exists() else 0


def _disk_full(error: Exception, folder: Path) -> bool:
    if isinstance(error, OSError) and error.errno == errno.ENOSPC:
        return True
    try:
        return shutil.disk_usage(folder).free < NEARLY_FULL
    except OSError:
        return False


def _remove(path: Path):
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path)
    elif path.exists() or path.is_symlink():
        path.unlink()


@contextlib.contextmanager
def atomic_path(path):
    """Yield a temporary path next to `path` (a file or a folder to create); on success it
    replaces `path`, on any error it is removed and `path` keeps its previous content."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    for stale in path.parent.glob(f".{path.name}.tmp-*"):  # left by a killed run
        _remove(stale)
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    try:
        yield tmp
        if path.is_dir() and tmp.is_dir():
            # No rename replaces a non-empty folder: the old one moves aside in one rename first
            # (deleting it first would leave a half-deleted output to a kill)
            aside = tmp.with_name(f"{tmp.name}-old")
            os.replace(path, aside)
            os.replace(tmp, path)
            _remove(aside)
        else:
            os.replace(tmp, path)
    except (OSError, RuntimeError) as error:
        if not _disk_full(error, path.parent):
            raise
        written = _size(tmp)
        raise UserError(f"no space left on the disk of {path.parent} while writing {path.name} "
                        f"(needed more than the {written / 2**20:.0f} MB written); free space and re-run; "
                        f"{path} is as it was") from None
    finally:
        _remove(tmp)


def write_json(path, data):
    """JSON as the standard defines it: a NaN or infinity is an error naming the file, never
    written (undefined statistics are stored as null by their producers)."""
    try:
        text = json.dumps(data, indent=2, sort_keys=False, allow_nan=False)
    except ValueError as error:
        raise ValueError(f"{path}: a value is not finite ({error}); not written") from None
    with atomic_path(path) as tmp:
        tmp.write_text(text + "\n")


def write_text(path, text: str):
    with atomic_path(path) as tmp:
        tmp.write_text(text)


@contextlib.contextmanager
def atomic_live(path):
    """A DVCLive logger whose folder appears at `path` only when the block succeeds."""
    from dvclive import Live

    with atomic_path(path) as tmp:
        with Live(str(tmp), dvcyaml=False, save_dvc_exp=False) as live:
            yield live
