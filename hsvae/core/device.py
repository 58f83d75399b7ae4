"""Device, numeric precision and CUDA graphs from the `train` params."""
import contextlib
from pathlib import Path

import torch

from hsvae.core.errors import InputError


def resolve_device(name: str, key: str = "train.device") -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        device = torch.device(name)
    except RuntimeError:
        raise InputError(f"{key} = {name!r}: expected auto, cpu, cuda or cuda:N") from None
    if device.type not in ("cpu", "cuda"):
        raise InputError(f"{key} = {name!r}: expected auto, cpu, cuda or cuda:N")
    if device.type == "cuda":
        if not torch.cuda.is_available():
            raise InputError(f"{key} = {name!r}: CUDA is not available on this machine; use auto or cpu")
        if device.index is not None and device.index >= torch.cuda.device_count():
            raise InputError(f"{key} = {name!r}: this machine has {torch.cuda.device_count()} CUDA device(s)")
    return device


def cpu_has_native_bf16() -> bool:
    """Whether this CPU multiplies bf16 matrices in hardware: the AMX or AVX512-BF16 flags of
    /proc/cpuinfo (Linux). oneDNN also runs bf16 on plain AVX-512 by conversion, slower than fp32."""
    try:
        flags = set(Path("/proc/cpuinfo").read_text().split())
    except OSError:
        return False
    return torch.backends.mkldnn.is_available() and bool(flags & {"amx_bf16", "avx512_bf16"})


def resolve_precision(precision: str, device: torch.device):
    """torch dtype for autocast, or None for fp32 storage. `tf32` is fp32 storage with TF32
    tensor-core matmuls on a GPU (plain fp32 on a CPU). `auto` is bf16 where the device
    multiplies bf16 natively (a GPU with bf16, a CPU with AMX/AVX512-BF16), fp32 elsewhere."""
    if precision == "auto":
        native = torch.cuda.is_bf16_supported() if device.type == "cuda" else cpu_has_native_bf16()
        precision = "bf16" if native else "fp32"
    return {"fp32": None, "tf32": None, "bf16": torch.bfloat16, "fp16": torch.float16}[precision]


def device_and_dtype(train):
    """Device and autocast dtype of the `train` settings (`device`, `precision`)."""
    device = resolve_device(train.device)
    return device, resolve_precision(train.precision, device)


@contextlib.contextmanager
def matmul_precision(precision: str):
    """PyTorch's process-wide TF32 switches on for `tf32` (off otherwise) while a stage trains,
    restored after: the one place this project changes a global setting."""
    saved = torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32
    torch.backends.cuda.matmul.allow_tf32 = torch.backends.cudnn.allow_tf32 = precision == "tf32"
    try:
        yield
    finally:
        torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32 = saved


def resolve_graphs(setting, device: torch.device, encoder: str = "gru", dtype=None) -> bool:
    """Whether training steps run as CUDA graphs: `auto` on a CUDA device for GRU models
    (a BERT encoder tokenises on the host inside its step, so it cannot be captured) outside
    fp16 (its gradient scaler decides on the host whether to step)."""
    capturable = encoder == "gru" and dtype != torch.float16
    if setting == "auto":
        return device.type == "cuda" and capturable
    if setting and device.type != "cuda":
        raise InputError("train.cuda_graphs = true: CUDA graphs need a CUDA device; use auto or false on a CPU")
    if setting and dtype == torch.float16:
        raise InputError("train.cuda_graphs = true: not with train.precision = fp16 (use bf16, or cuda_graphs false)")
    return bool(setting) and capturable


def autocast(device: torch.device, dtype, cache_enabled=True):
    """Mixed precision for the networks; losses, KLs and metrics are computed in fp32 by the
    models themselves. A CUDA graph capture needs cache_enabled=False."""
    if dtype is None:
        return contextlib.nullcontext()
    return torch.autocast(device.type, dtype=dtype, cache_enabled=cache_enabled)
