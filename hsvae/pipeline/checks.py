"""What `configure` checks beyond the params schema, before DVC removes any stage's outputs:
that this machine can run the params — the device exists, the models fit in its memory, a
BERT model can be loaded, a local corpus is there. A value refused here leaves every output
as it was; found only inside a stage, DVC would already have deleted that stage's outputs."""
import os
from pathlib import Path

import torch
from torch.overrides import TorchFunctionMode

from hsvae.data.corpora import CORPORA
from hsvae.core.device import resolve_device, resolve_graphs, resolve_precision
from hsvae.core.errors import InputError
from hsvae.models.registry import VAE_MODELS, build_vae, encoders_in_use

# Bytes per trained parameter: fp32 weight, gradient and Adam's two moments.
BYTES_PER_PARAMETER = 16


class ShapesOnly(TorchFunctionMode):
    """Skips nn.init.normal_ (the embeddings' initialisation): a model built to count its
    parameters needs no values, and torch's meta-device normal_ imports torch._dynamo, which
    doubled configure's time (4.6–5.2 s against 2.3–2.6 s on a 2-core AMD EPYC)."""
    def __torch_function__(self, func, types, args=(), kwargs=None):
        if func is torch.nn.init.normal_:
            return args[0] if args else kwargs["tensor"]
        return func(*args, **(kwargs or {}))


def largest_gru_vae(settings) -> int:
    """Parameters of the largest GRU VAE of `models`, counted on a model built on the meta
    device (shapes only, no memory)."""
    vocab = settings.data.vocab_size + 3
    gru = [m for m in settings.models if VAE_MODELS[m].encoder == "gru"] or ["vae"]  # the baseline's size
    with torch.device("meta"), ShapesOnly():
        return max(sum(p.numel() for p in build_vae(m, vocab, settings.arch, getattr(settings, VAE_MODELS[m].section))
                       .parameters()) for m in gru)


def activation_bytes(arch, train, data) -> int:
    """The largest step's saved activations, roughly: both GRUs' gates and states per token of
    a batch of the longest sentences, in fp32, plus one chunk of vocabulary logits."""
    tokens = train.batch_size * (data.max_length + 1)
    chunk = train.ce_chunk or tokens
    return 4 * (2 * 4 * arch.hidden_dim * tokens + 3 * chunk * (data.vocab_size + 3))


def device_memory(device: torch.device) -> int:
    if device.type == "cuda":
        return torch.cuda.mem_get_info(device)[1]
    return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")


def check_memory(settings, device: torch.device):
    if "gru" not in encoders_in_use(settings.models, settings.baselines):
        return
    needed = largest_gru_vae(settings) * BYTES_PER_PARAMETER
    needed += activation_bytes(settings.arch, settings.train, settings.data)
    have = device_memory(device)
    if needed > have:
        arch = settings.arch
        raise InputError(f"arch = (embedding_dim {arch.embedding_dim}, hidden_dim {arch.hidden_dim}, latent_dim "
                         f"{arch.latent_dim}) with data.vocab_size {settings.data.vocab_size} and train.batch_size "
                         f"{settings.train.batch_size}: training needs about {needed / 2**30:.3g} GiB, more than the "
                         f"{have / 2**30:.3g} GiB of {device.type} memory this machine has")


def check_bert(settings):
    """A BERT encoder or baseline in use loads from a local folder, the Hugging Face cache or
    the hub; offline, a model in none of them would fail only inside its stage."""
    name = settings.arch.bert
    if "bert" not in encoders_in_use(settings.models, settings.baselines) or Path(name).is_dir():
        return
    from huggingface_hub import try_to_load_from_cache

    try:
        if isinstance(try_to_load_from_cache(name, "config.json"), str):
            return
    except ValueError:  # not a hub name either (e.g. a path that does not exist): not cached
        pass
    reachable = False
    if not os.environ.get("HF_HUB_OFFLINE"):
        from huggingface_hub import HfApi

        try:
            HfApi().model_info(name, timeout=5)
            reachable = True
        except Exception:  # no network, no such model, not a hub name: each leaves the stage unable to load it
            pass
    if not reachable:
        raise InputError(f"arch.bert = {name!r}: not a local folder, not in the Hugging Face cache, and the hub cannot "
                         "be reached; download it once with network access or give the path of a saved model")


def check_machine(settings):
    """Everything about the settings that depends on this machine; raises a one-line InputError."""
    train = settings.train
    device = resolve_device(train.device)
    dtype = resolve_precision(train.precision, device)
    resolve_graphs(train.cuda_graphs, device, "gru", dtype)
    check_memory(settings, device)
    check_bert(settings)
    CORPORA[settings.data.corpus].check(settings.data)
