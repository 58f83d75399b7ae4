"""What every stage script shares: its resolved config, device, and user errors shown as one line.

`stage_configs(params)` is the one place that says which params each stage uses. The
`configure` stage writes them to configs/ and every later stage depends on its own file, so
DVC re-runs exactly the stages whose settings changed (`-S model.alpha=8` changes only
configs/pretrain/hsvae.json), and a bad value fails in `configure`, before DVC has removed
any other stage's outputs. Stage scripts compute the same dict from params.yaml, so one run
directly (`python -m stages.pretrain hsvae`) uses the current params too.
"""
import os
import sys

from hsvae.data.corpora import CORPORA
from hsvae.device import resolve_device, resolve_precision
from hsvae.errors import InputError, UserError
from hsvae.models.registry import VAE_MODELS
from hsvae.pipeline import params as params_module
from hsvae.pipeline.params import BASELINES, ParamError

# A user's problem (and a missing file, which is almost always one) is one line; anything else is a bug.
USER_ERRORS = (UserError, FileNotFoundError)

DATA = "data/processed"
CONFIGS = "configs"


def stage_configs(params: dict) -> dict:
    """configs/ file name (without .json) -> the settings that stage uses."""
    train, device = params["train"], {k: params["train"][k] for k in ("device", "precision", "eval_batch_size")}
    configs = {"data": {"data": params["data"]}}
    for name in params["models"]:
        configs[f"pretrain/{name}"] = {"name": name, "arch": params["arch"], "train": train,
                                       "hparams": params[VAE_MODELS[name].section]}
        configs[f"classify/{name}"] = {"name": name, "classify": params["classify"], "seed": train["seed"], **device}
    for name in params["baselines"]:
        configs[f"baseline/{name}"] = {"name": name, "arch": params["arch"], "train": train,
                                       "classify": params["classify"]}
    configs["analyze"] = {"models": params["models"], "baselines": params["baselines"], "analyze": params["analyze"],
                          "data": {k: params["data"][k] for k in ("corpus", "seed", "per_class")},
                          "arch": params["arch"], "hparams": {n: params[VAE_MODELS[n].section] for n in params["models"]}}
    return configs


def check_trained_with(path, name: str, trained: dict, expected: dict):
    """A stage run directly reads what pretrain@NAME wrote: it must have been trained with the
    settings params.yaml has now (`arch`, the model's section), or its results would be
    reported under settings it was not trained with."""
    section = VAE_MODELS[name].section
    for group, prefix in (("arch", "arch"), ("hparams", section)):
        for key, value in expected[group].items():
            if trained.get(group, {}).get(key) != value:
                raise InputError(f"{path}: pretrain@{name} made it with {prefix}.{key} = "
                                 f"{trained.get(group, {}).get(key)!r}, but params.yaml now says {value!r}; "
                                 f"re-run pretrain@{name} first (dvc repro)")


def load_params():
    return params_module.load("params.yaml")


def stage_config(key: str) -> dict:
    """The settings of stage `key` (e.g. "pretrain/hsvae"), from the checked params.yaml."""
    configs = stage_configs(load_params())
    if key not in configs:
        kind, _, name = key.partition("/")
        listed = "models" if kind in ("pretrain", "classify") else "baselines"
        raise ParamError(f"params.yaml: {name!r} is not in {listed}; add it there to run this stage")
    return configs[key]


def model_argument(allowed) -> str:
    """The MODEL of `python -m stages.X MODEL`, checked against the names allowed."""
    if len(sys.argv) != 2 or sys.argv[1] not in allowed:
        raise ParamError(f"stage argument: expected one model name from {', '.join(allowed)}, got {sys.argv[1:]}")
    return sys.argv[1]


def vae_argument() -> str:
    return model_argument(VAE_MODELS)


def baseline_argument() -> str:
    return model_argument(BASELINES)


def device_and_dtype(settings):
    """Device and autocast dtype from a config holding `device` and `precision`."""
    device = resolve_device(settings["device"])
    return device, resolve_precision(settings["precision"], device)


def corpus_spec(data):
    return CORPORA[data["corpus"]]


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
