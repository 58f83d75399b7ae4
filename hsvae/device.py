"""Device and numeric precision from the `train` params."""
import contextlib

import torch

from hsvae.errors import InputError


def resolve_device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    device = torch.device(name)
    if device.type == "cuda" and not torch.cuda.is_available():
        raise InputError(f"train.device = {name!r}: CUDA is not available on this machine; use auto or cpu")
    return device


def resolve_precision(precision: str, device: torch.device):
    """torch dtype for autocast, or None for plain fp32. `auto` is bf16 on a GPU that runs it
    natively, fp32 elsewhere."""
    if precision == "auto":
        precision = "bf16" if device.type == "cuda" and torch.cuda.is_bf16_supported() else "fp32"
    return {"fp32": None, "bf16": torch.bfloat16, "fp16": torch.float16}[precision]


def autocast(device: torch.device, dtype):
    """Mixed precision for the networks; losses, KLs and metrics are computed in fp32 by the
    models themselves."""
    if dtype is None:
        return contextlib.nullcontext()
    return torch.autocast(device.type, dtype=dtype)
