"""Errors that are the user's to fix (a param, a file, a corpus): shown as one line naming the
problem, exit code 2. Anything else is a bug and keeps its traceback."""


class UserError(Exception):
    pass


class InputError(UserError, ValueError):
    """A file or value the user gave is not what is expected."""


class MissingInput(UserError, FileNotFoundError):
    """A file or folder the user named does not exist."""
