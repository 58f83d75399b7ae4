"""Errors that are the user's to fix (a param, a file, a corpus): shown as one line naming the
problem, exit code 2. Anything else is a bug and keeps its traceback."""
import contextlib
import json
import pickle
import zipfile
from pathlib import Path


class UserError(Exception):
    pass


class InputError(UserError, ValueError):
    """A file or value the user gave is not what is expected."""


class MissingInput(UserError, FileNotFoundError):
    """A file or folder the user named does not exist."""


# A user's problem (and a missing file, which is almost always one) is one line.
USER_ERRORS = (UserError, FileNotFoundError)
# What reading a damaged or foreign file raises (numpy, torch, json, zip, text decoding).
DAMAGED = (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile, pickle.UnpicklingError, UnicodeDecodeError,
           RuntimeError, IndexError, TypeError)


@contextlib.contextmanager
def reading(path, maker: str):
    """Read `path` (made by the stage `maker`) inside this block: a missing, damaged or foreign
    file is one line naming it and the stage that makes it."""
    try:
        yield
    except USER_ERRORS:
        raise
    except DAMAGED as error:
        detail = str(error).splitlines()[0] if str(error) else ""
        raise InputError(f"{path}: damaged or not what {maker} writes ({type(error).__name__}: {detail}); "
                         f"re-run {maker} (dvc repro)") from None


def read_json(path, maker: str):
    path = Path(path)
    if not path.is_file():
        raise MissingInput(f"{path}: missing; {maker} makes it (dvc repro)")
    with reading(path, maker):
        return json.loads(path.read_text(encoding="utf-8"))


class CorruptFile(InputError):
    pass


RERUN = "delete it and re-run the stage"


def safe_load(path, advice=RERUN):
    """torch.load(weights_only=True) with one clear error for a missing, truncated or corrupt
    file, ending with `advice` (what the reader of the file should do)."""
    path = Path(path)
    if not path.is_file():
        raise MissingInput(f"{path}: no such file")
    try:
        import torch  # here, not on import: the data stages read no model

        return torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:  # torch raises several kinds for damaged files
        raise CorruptFile(f"{path}: cannot be read as a saved model or checkpoint ({type(error).__name__}: "
                          f"{str(error).splitlines()[0] if str(error) else ''}); {advice}") from None
