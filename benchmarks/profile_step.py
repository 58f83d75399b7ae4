"""Where one HSVAE training step spends its time, at the paper's architecture.

    python -m benchmarks.profile_step [--device cpu|cuda] [--batch 256] [--precision bf16] [--ce-chunk 1024]

Profiles a few steps with torch.profiler and groups self time into: output projection (the
matmuls touching the 20k vocabulary), softmax / cross-entropy (the other ops on vocabulary-
sized tensors), GRU matmuls, embedding, optimizer, other ops (GRU gates, copies, the
distributions); data loading (collate) is timed around the profiled region."""
import argparse
import time
from collections import defaultdict
from pathlib import Path

import numpy as np
import torch
from torch.profiler import ProfilerActivity, profile

from benchmarks.train_throughput import ARCHS, SHARED, LengthsSplit, dbpedia_lengths, hsvae_settings
from hsvae.core.device import resolve_precision
from hsvae.models.chunked_ce import ALIGN
from hsvae.training.pretrain import training_setup
from hsvae.training.step import make_step

PAPER_ARCH, VOCAB, _ = ARCHS["paper"]

VOCAB_SIZES = (str(VOCAB), str(-(-VOCAB // ALIGN) * ALIGN))  # as is, and padded inside the fused op
GATES = str(3 * PAPER_ARCH.hidden_dim)  # a GRU's matmuls produce or consume its three gates


def category(name: str, shapes) -> str:
    flat = str(shapes)
    vocabulary_sized = any(size in flat for size in VOCAB_SIZES)
    matmul = any(k in name for k in ("mm", "linear", "matmul"))
    if "_foreach" in name or "adam" in name.lower():
        return "optimizer"
    if "embedding" in name:
        return "embedding"
    if matmul and vocabulary_sized:
        return "output projection"
    if vocabulary_sized or "cross_entropy" in name or "log_softmax" in name or "nll_loss" in name:
        return "softmax / cross-entropy"
    if matmul and GATES in flat or any(k in name for k in ("gru", "rnn", "cudnn")):
        return "GRU matmuls / kernels"
    return "other ops"


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--batch", type=int, default=256)
    parser.add_argument("--steps", type=int, default=3)
    parser.add_argument("--precision", choices=("fp32", "bf16"), default="fp32")
    parser.add_argument("--ce-chunk", type=int, default=1024, help="train.ce_chunk (0: plain cross-entropy)")
    parser.add_argument("--text-dir", default=str(SHARED))
    args = parser.parse_args()
    device = torch.device(args.device)
    split = LengthsSplit(dbpedia_lengths(Path(args.text_dir))[0], VOCAB)
    cfg = hsvae_settings(PAPER_ARCH, args.precision, False, args.ce_chunk, args.batch)
    dtype = resolve_precision(args.precision, device)
    setup = training_setup(cfg, split, VOCAB, device, dtype)
    run_step = make_step(setup.model.loss_terms, setup.optimizer, device, dtype)
    order = setup.batches(np.random.default_rng(0))

    def step(indices):
        start = time.perf_counter()
        batch = setup.load(indices)
        loading = time.perf_counter() - start
        run_step(batch)
        return loading

    step(order[0])
    activities = [ProfilerActivity.CPU] + ([ProfilerActivity.CUDA] if device.type == "cuda" else [])
    loading = 0.0
    with profile(activities=activities, record_shapes=True) as prof:
        start = time.perf_counter()
        for indices in order[1 : 1 + args.steps]:
            loading += step(indices)
        if device.type == "cuda":
            torch.cuda.synchronize()
        wall = time.perf_counter() - start
    attr = "self_device_time_total" if device.type == "cuda" else "self_cpu_time_total"
    totals = defaultdict(float)
    for event in prof.key_averages(group_by_input_shape=True):
        totals[category(event.key, event.input_shapes)] += getattr(event, attr) / 1e6
    measured = sum(totals.values())
    print(f"{args.device} {args.precision}, batch {args.batch}, ce_chunk {args.ce_chunk}, {args.steps} steps, wall {wall:.2f} s")
    print(f"{'part':<20}{'seconds':>10}{'share':>8}")
    for name, seconds in sorted(totals.items(), key=lambda kv: -kv[1]):
        print(f"{name:<20}{seconds:>10.3f}{seconds / measured:>8.1%}")
    print(f"{'data loading':<20}{loading:>10.3f}{loading / wall:>8.1%} of wall time")
    print(prof.key_averages().table(sort_by=attr, row_limit=12))


if __name__ == "__main__":
    main()
