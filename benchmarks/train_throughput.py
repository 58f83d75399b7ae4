"""Training-step throughput in useful (non-padding) tokens/s, against the matmul rate of the
step's precision probed in the same run, for the pipeline's own step (`training_setup` and
`make_step`: the model, optimizer, batches and CUDA graphs a pretrain stage uses).

    python -m benchmarks.train_throughput [--device cpu|cuda] [--arch paper|default]
        [--configs fp32 tf32 bf16 bf16+graphs] [--steps N] [--ce-chunk N] [--text-dir DIR]

A config is a train.precision, optionally `+graphs` (train.cuda_graphs true) and `+plain-ce`
(train.ce_chunk 0: the vocabulary projection and cross-entropy as two ordinary ops).
Sentences: the authors' DBpedia valid and test splits (../shared/data/hsvae-dbpedia, 28,000
sentences) when present, otherwise lengths drawn from DBpedia's Table 2 range (1-60, mean
35); word ids are random (the speed does not depend on them). Steps are timed as a block,
the device synchronised only at its ends, as the training loop runs them."""
import argparse
import json
import time
from pathlib import Path

import numpy as np
import torch

from benchmarks import report
from hsvae.core.device import resolve_precision
from hsvae.data.batching import collate
from hsvae.models.hsvae import HSVAEConfig
from hsvae.models.settings import ArchSettings
from hsvae.pipeline.params import stage_settings
from hsvae.training.pretrain import training_setup
from hsvae.training.settings import TrainSettings
from hsvae.training.step import make_step

SHARED = Path(__file__).resolve().parents[1] / ".." / "shared" / "data" / "hsvae-dbpedia"
ARCHS = {  # (arch, vocabulary with <pad> <eos> <unk>, batch size)
    "paper": (ArchSettings(embedding_dim=256, hidden_dim=512, latent_dim=32, bert=""), 20_003, 256),
    "default": (ArchSettings(embedding_dim=64, hidden_dim=128, latent_dim=32, bert=""), 5_003, 64),
}


class LengthsSplit:
    """A training split of random word ids with given sentence lengths (the Split interface
    that training uses)."""

    def __init__(self, lengths, vocab, seed=0):
        rng = np.random.default_rng(seed)
        self.lengths = np.asarray(lengths)
        self.sentences = [rng.integers(3, vocab, size=n) for n in self.lengths]
        self.digest = f"random words, {len(self.lengths)} lengths, seed {seed}"  # what a run's identity names

    def __len__(self):
        return len(self.sentences)

    def batch(self, indices, length_multiple=0):
        return collate([self.sentences[i] for i in indices], np.zeros(len(indices)), None, length_multiple)


def dbpedia_lengths(folder=SHARED, rng=None):
    if folder.exists():
        lines = (folder / "valid.txt").read_text().splitlines() + (folder / "test.txt").read_text().splitlines()
        return np.array([len(line.split()) for line in lines]), f"{folder.name} valid+test"
    rng = rng or np.random.default_rng(0)
    return np.clip(rng.normal(35, 12, 28_000).round(), 1, 60).astype(int), "synthetic DBpedia-like lengths"


def sync(device):
    if device.type == "cuda":
        torch.cuda.synchronize()


def matmul_rate(device, dtype, n=2048, seconds=1.0):
    """FLOP/s of an n^3 matmul in `dtype` (fp32 under the current TF32 setting)."""
    a, b = torch.randn(n, n, device=device, dtype=dtype), torch.randn(n, n, device=device, dtype=dtype)
    for _ in range(3):
        a @ b
    sync(device)
    repeats, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        for _ in range(10 if device.type == "cuda" else 1):
            a @ b
            repeats += 1
        sync(device)
    return 2 * n**3 * repeats / (time.perf_counter() - start)


def flops_per_token(arch, vocab):
    """Training FLOPs per token (forward x 3): encoder GRU, decoder GRU, vocabulary projection."""
    e, h, d = arch.embedding_dim, arch.hidden_dim, arch.latent_dim
    macs = 3 * (e * h + h * h) + 3 * ((e + d) * h + h * h) + h * vocab
    return 3 * 2 * macs


def hsvae_settings(arch, precision, graphs, ce_chunk, batch_size):
    """The pretrain@hsvae settings of one timed configuration (HSVAE at its defaults)."""
    train = TrainSettings(precision=precision, cuda_graphs=graphs, epochs=1, batch_size=batch_size, grad_clip=0.0,
                          ce_chunk=ce_chunk)
    return stage_settings({"name": "hsvae", "arch": arch, "train": train, "hparams": HSVAEConfig()})


def measure_step(cfg, split, vocab, device, steps, warmup, before_timing=None):
    """Useful tokens/s of `steps` training steps of the stage config `cfg` on `split`, after
    `warmup` steps (CUDA graphs are captured there); the matmul rate of the step's precision
    is probed right before and after the timed block. `before_timing()` is called right
    before the timed block (processes timed together wait there for each other)."""
    dtype = resolve_precision(cfg.train.precision, device)
    setup = training_setup(cfg, split, vocab, device, dtype)
    run_step = make_step(setup.model.loss_terms, setup.optimizer, device, dtype, cfg.train.grad_clip,
                         graphs=setup.graphs)
    rng = np.random.default_rng(0)
    order = []
    while len(order) < warmup + steps:
        order += setup.batches(rng)
    for indices in order[:warmup]:
        run_step(setup.load(indices))
    probe_dtype = dtype or torch.float32
    rate_before = matmul_rate(device, probe_dtype)
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats()
    timed = order[warmup: warmup + steps]
    sync(device)
    if before_timing:
        before_timing()
    start = time.perf_counter()
    for indices in timed:
        run_step(setup.load(indices))
    sync(device)
    seconds = time.perf_counter() - start
    rate = (rate_before + matmul_rate(device, probe_dtype)) / 2
    multiple = 8 if setup.graphs else 1
    useful = sum(int(split.lengths[i].sum()) + len(i) for i in timed)  # words + <eos>
    processed = sum(len(i) * (-(-int(split.lengths[i].max()) // multiple) * multiple + 1) for i in timed)
    tokens_per_s = useful / seconds
    limit = rate / flops_per_token(cfg.arch, vocab)
    return {"useful_tokens_per_s": round(tokens_per_s), "padding_share": round(1 - useful / processed, 4),
            "seconds": round(seconds, 3), "steps": steps, "matmul_tflops": round(rate / 1e12, 2),
            "share_of_matmul_limit": round(tokens_per_s / limit, 4),
            "peak_memory_gb": round(torch.cuda.max_memory_allocated() / 2**30, 2) if device.type == "cuda" else None,
            **({"graphs_captured": len(run_step.graphs), "graph_failure": run_step.failed} if setup.graphs else {})}


def device_name(device):
    return torch.cuda.get_device_name() if device.type == "cuda" else f"cpu x{torch.get_num_threads()}"


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--arch", choices=ARCHS, default="paper")
    parser.add_argument("--configs", nargs="+", default=None,
                        help="default: fp32 tf32 bf16 bf16+plain-ce bf16+graphs on a GPU, fp32 bf16 on a CPU")
    parser.add_argument("--steps", type=int, default=None, help="timed steps (default 200 on a GPU, 6 on a CPU)")
    parser.add_argument("--warmup", type=int, default=None, help="untimed steps first (default 40 GPU, 2 CPU)")
    parser.add_argument("--ce-chunk", type=int, default=None,
                        help="tokens per chunk of the fused projection + cross-entropy (default 4096 GPU, 1024 CPU)")
    parser.add_argument("--text-dir", type=Path, default=SHARED, help="folder with valid.txt and test.txt")
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    device = torch.device(args.device)
    gpu = device.type == "cuda"
    configs = args.configs or (["fp32", "tf32", "bf16", "bf16+plain-ce", "bf16+graphs"] if gpu else ["fp32", "bf16"])
    steps, warmup = args.steps or (200 if gpu else 6), args.warmup if args.warmup is not None else (40 if gpu else 2)
    ce_chunk = args.ce_chunk if args.ce_chunk is not None else (4096 if gpu else 1024)
    arch, vocab, batch_size = ARCHS[args.arch]
    lengths, source = dbpedia_lengths(args.text_dir)
    split = LengthsSplit(lengths, vocab)
    results = {"device": device_name(device), "torch": torch.__version__, "arch": args.arch, **arch.params(),
               "vocab": vocab, "batch": batch_size, "sentences": source,
               "train_flops_per_token": flops_per_token(arch, vocab)}
    for name in configs:
        precision, *flags = name.split("+")
        cfg = hsvae_settings(arch, precision, "graphs" in flags, 0 if "plain-ce" in flags else ce_chunk, batch_size)
        results[name] = measure_step(cfg, split, vocab, device, steps, warmup)
        print(json.dumps({name: results[name]}), flush=True)
    if "fp32" in results:
        for name in configs:
            results[name]["vs_fp32"] = round(results[name]["useful_tokens_per_s"] / results["fp32"]["useful_tokens_per_s"], 3)
    report(results, args.out)


if __name__ == "__main__":
    main()
