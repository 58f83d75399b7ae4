"""What every stage script shares: params, device, and user errors shown as one line."""
import os
import sys

from hsvae import params as params_module
from hsvae.corpora import CORPORA
from hsvae.device import resolve_device, resolve_precision
from hsvae.download import DownloadError
from hsvae.params import ParamError
from hsvae.preprocess import CorpusTooSmall
from hsvae.store import CorruptFile
from hsvae.train import TrainingError

USER_ERRORS = (ParamError, DownloadError, CorpusTooSmall, CorruptFile, TrainingError, FileNotFoundError, ValueError)

DATA = "data/processed"


def load_params():
    return params_module.load("params.yaml")


def model_argument(allowed) -> str:
    """The MODEL of `python -m stages.X MODEL`, checked against the names allowed."""
    if len(sys.argv) != 2 or sys.argv[1] not in allowed:
        raise ParamError(f"stage argument: expected one model name from {', '.join(allowed)}, got {sys.argv[1:]}")
    return sys.argv[1]


def device_and_dtype(params):
    device = resolve_device(params["train"]["device"])
    return device, resolve_precision(params["train"]["precision"], device)


def corpus_spec(params):
    return CORPORA[params["data"]["corpus"]]


def run(main):
    """Run a stage's main(); a user error prints one line naming what is wrong and exits 2
    (HSVAE_DEBUG=1 shows the traceback instead)."""
    try:
        main()
    except USER_ERRORS as error:
        if os.environ.get("HSVAE_DEBUG"):
            raise
        print(f"error: {error}", file=sys.stderr)
        sys.exit(2)
