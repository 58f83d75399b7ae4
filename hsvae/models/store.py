"""Trained models on disk: a state dict with the config that rebuilds the model, loadable
with torch.load(weights_only=True)."""

import torch
from pydantic import ValidationError

from hsvae.core.atomic import atomic_path
from hsvae.core.errors import RERUN, CorruptFile, safe_load
from hsvae.models.registry import VAE_MODELS, build_vae
from hsvae.models.settings import ArchSettings


def save(path, state_dict, **config):
    with atomic_path(path) as tmp:
        torch.save({"config": config, "state_dict": state_dict}, tmp)


def load_vae(path, device="cpu", advice=RERUN):
    """A trained VAE and its config (name, vocab_size, arch, hparams)."""
    saved = safe_load(path, advice)
    try:
        config = saved["config"]
        name = config["name"]
        model = build_vae(name, config["vocab_size"], ArchSettings.model_validate(config["arch"]),
                          VAE_MODELS[name].config.model_validate(config["hparams"]))
        model.load_state_dict(saved["state_dict"])
    except (KeyError, TypeError, RuntimeError, ValidationError) as error:
        raise CorruptFile(f"{path}: not a model saved by the pretrain stage ({error})") from None
    return model.to(device).eval(), config
