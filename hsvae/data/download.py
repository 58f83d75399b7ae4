"""Fetching corpora: streamed, resumable (HTTP Range), verified, atomically renamed, and
archives extracted safely."""
import hashlib
import os
import shutil
import tarfile
import urllib.error
import urllib.request
from pathlib import Path

from tqdm import tqdm

from hsvae.core.atomic import atomic_path
from hsvae.core.errors import UserError

OFFLINE_HINT = (
    "To run without network use the embedded corpus (dvc exp run -S data.corpus=synthetic) "
    "or your own files (-S data.corpus=local -S data.local_dir=PATH)."
)


class DownloadError(UserError, RuntimeError):
    pass


def git_blob_id(path) -> str:
    """The id git gives a file's bytes: sha1 of b'blob <size>\\0' + content."""
    path = Path(path)
    digest = hashlib.sha1(f"blob {path.stat().st_size}\0".encode())
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def check_archive(path):
    """Read a tar archive to its end: a file cut short (e.g. by a server that sent no length)
    fails here instead of when it is extracted."""
    with tarfile.open(path) as tar:
        for _ in tar:
            pass


def _verified(path: Path, url: str, verify) -> Path:
    if verify is not None:
        try:
            verify(path)
        except (tarfile.TarError, EOFError, OSError, ValueError) as error:
            path.unlink()
            raise DownloadError(f"{path}: an incomplete or damaged download of {url} ({type(error).__name__}: "
                                f"{error}); removed, run again to download it anew") from None
    return path


def fetch(url: str, dest, blob_id: str | None = None, timeout: float = 30.0, chunk: int = 1 << 16,
          verify=None) -> Path:
    """Download `url` to `dest`. A previous partial download (`dest`.part) is resumed with an
    HTTP Range request; the file appears at `dest` only when complete and verified (git blob
    id, or `verify(path)`, also run before a file already at `dest` is reused)."""
    dest = Path(dest)
    if dest.exists():
        return _verified(dest, url, verify)
    dest.parent.mkdir(parents=True, exist_ok=True)
    part = dest.with_name(dest.name + ".part")
    have = part.stat().st_size if part.exists() else 0
    request = urllib.request.Request(url, headers={"Range": f"bytes={have}-"} if have else {})
    try:
        response = urllib.request.urlopen(request, timeout=timeout)
    except urllib.error.HTTPError as error:
        if error.code == 416 and have:  # the partial file is already whole
            response = None
        else:
            raise DownloadError(f"{url}: HTTP {error.code} {error.reason}") from None
    except (urllib.error.URLError, OSError) as error:
        reason = getattr(error, "reason", error)
        raise DownloadError(f"cannot reach {url} ({reason}). {OFFLINE_HINT}") from None
    if response is not None:
        with response:
            resumed = response.status == 206
            total = response.headers.get("Content-Length")
            total = int(total) + (have if resumed else 0) if total else None
            with open(part, "ab" if resumed else "wb") as out, tqdm(
                total=total, initial=have if resumed else 0, unit="B", unit_scale=True, desc=dest.name,
                disable=None,  # no bar when the output is not a terminal (a log file)
            ) as bar:
                try:
                    for block in iter(lambda: response.read(chunk), b""):
                        out.write(block)
                        bar.update(len(block))
                except (OSError, urllib.error.URLError) as error:
                    raise DownloadError(
                        f"{url}: connection lost after {out.tell()} bytes ({error}); run again to resume"
                    ) from None
            if total is not None and part.stat().st_size != total:
                raise DownloadError(
                    f"{url}: got {part.stat().st_size} of {total} bytes; run again to resume"
                )
    if blob_id is not None:
        got = git_blob_id(part)
        if got != blob_id:
            part.unlink()
            raise DownloadError(f"{url}: git blob id {got} does not match the expected {blob_id}; file removed")
    _verified(part, url, verify)
    os.replace(part, dest)
    return dest


def _safe_member(member, path):
    # The 'data' filter would strip a leading '/' and extract; an absolute name is refused instead.
    if member.name.startswith(("/", "\\")):
        raise tarfile.AbsolutePathError(member)
    return tarfile.data_filter(member, path)


def extract_tar(archive, target):
    """Extract `archive` into the folder `target`, atomically. Members with absolute paths,
    '..' or links pointing outside are refused (tarfile's 'data' filter, stricter on
    absolute names)."""
    with atomic_path(target) as tmp, tarfile.open(archive) as tar:
        tmp.mkdir()
        try:
            tar.extractall(tmp, filter=_safe_member)
        except tarfile.FilterError as error:
            raise DownloadError(f"{archive}: unsafe archive member refused: {error}") from None
    return Path(target)


def copy_file(source, dest):
    with atomic_path(dest) as tmp:
        shutil.copyfile(source, tmp)
