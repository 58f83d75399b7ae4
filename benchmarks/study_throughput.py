"""A study's throughput: K runs of one architecture trained as one pack (hsvae/training/pack.py)
against K separate runs at once and one run alone, in useful (non-padding) tokens/s summed
over the runs, with each run's time per step and the peak memory.

    python -m benchmarks.study_throughput [--device cpu|cuda] [--arch paper|default]
        [--packs 1 4 16 32] [--separate 4] [--mps] [--precision bf16] [--steps N]

`alone` is the pipeline's own step (`training_setup` + `make_step`, CUDA graphs where a
pretrain stage uses them); `separate` starts K processes of it at the same time (`--mps`
first starts CUDA MPS, so that their kernels share the GPU); `pack K` is the step
`pretrain_pack` runs (CUDA graphs on a GPU, timed once every batch shape is captured) on K
HSVAE members with priors alpha 1..K, `--settings-per-seed` S of them per seed (members with
one seed share a batch order; a pack step's batches are padded to its longest); `--epoch K`
times a whole epoch of `pretrain_pack` (graph captures and validation included). Sentence
lengths as train_throughput."""
import argparse
import gc
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import torch

from benchmarks import report
from benchmarks.train_throughput import (
    ARCHS,
    SHARED,
    LengthsSplit,
    dbpedia_lengths,
    device_name,
    flops_per_token,
    matmul_rate,
    measure_step,
    sync,
    train_config,
)
from hsvae.config import defaults_of
from hsvae.device import resolve_precision
from hsvae.models.hsvae import HSVAEConfig
from hsvae.models.packed import MemberRandomness, Pack, pack_batches
from hsvae.training.pack import Member, StackedAdam, make_pack_step, pretrain_pack
from hsvae.training.pretrain import GRAPH_LENGTH_MULTIPLE, training_setup


def member_cfg(arch, train, seed, alpha):
    return {"name": "hsvae", "arch": arch, "hparams": {**defaults_of(HSVAEConfig), "alpha": float(alpha)},
            "train": {**train, "seed": seed}}


def measure_pack(k, arch, train, split, vocab, device, steps, warmup_passes, settings_per_seed=1):
    """The pack step pretrain_pack runs (CUDA graphs on a GPU) of K members, timed over
    `steps` steps after `warmup_passes` untimed passes over the same batches (three capture
    every batch shape a graph: two eager steps, then the capture): the steady state.
    settings_per_seed members share each seed (and so their batches), as a study's settings
    of one replicate do."""
    dtype = resolve_precision(train["precision"], device)
    seeds = [i // settings_per_seed for i in range(k)]
    setups = [training_setup(member_cfg(arch, train, seed, 1 + i), split, vocab, device, dtype)
              for i, seed in enumerate(seeds)]
    randomness = MemberRandomness(device)
    orders = []
    for i, (seed, setup) in enumerate(zip(seeds, setups)):
        randomness.seed(i, seed * 100_003)
        orders.append(setup.batches(np.random.default_rng([seed, 0])))
    pack = Pack([s.model for s in setups]).to(device)
    graphs = setups[0].graphs
    _, run_step = make_pack_step(pack, StackedAdam(pack.weights, [train["lr"]] * k), randomness, device, dtype,
                                 train["grad_clip"], graphs)

    def step(i):
        batches = [split.batch(order[i % len(order)]) for order in orders]
        run_step(pack_batches(batches, GRAPH_LENGTH_MULTIPLE if graphs else 0).to(device))
        return batches

    for _ in range(warmup_passes):
        for i in range(steps):
            step(i)
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats()
    sync(device)
    start = time.perf_counter()
    useful = processed = 0
    multiple = GRAPH_LENGTH_MULTIPLE if graphs else 1
    for i in range(steps):
        batches = step(i)
        useful += sum(int(b.lengths.sum()) + len(b) for b in batches)
        width = -(-max(b.tokens.shape[1] for b in batches) // multiple) * multiple
        processed += k * max(len(b) for b in batches) * (width + 1)
    sync(device)
    seconds = time.perf_counter() - start
    return {"useful_tokens_per_s": round(useful / seconds), "padding_share": round(1 - useful / processed, 4),
            "seconds_per_step": round(seconds / steps, 4), "steps": steps,
            "peak_memory_gb": round(torch.cuda.max_memory_allocated() / 2**30, 2) if device.type == "cuda" else None,
            **({"graphs_captured": len(run_step.graphs), "graph_failure": run_step.failed} if graphs else {})}


def profile_pack(k, arch, train, split, vocab, device, settings_per_seed, path):
    """The kernels and ops of 3 pack steps (after 2 untimed passes), the table written to `path`."""
    from torch.profiler import ProfilerActivity, profile

    activities = [ProfilerActivity.CPU] + ([ProfilerActivity.CUDA] if device.type == "cuda" else [])
    with profile(activities=activities) as prof:
        measure_pack(k, arch, train, split, vocab, device, 3, 2, settings_per_seed)
    sort = "cuda_time_total" if device.type == "cuda" else "cpu_time_total"
    path.write_text(prof.key_averages().table(sort_by=sort, row_limit=40, max_name_column_width=60))


def measure_packed_epoch(k, arch, train, lengths, vocab, device, settings_per_seed=1):
    """One epoch of `pretrain_pack` (validation included) of K members on `lengths`, a tenth
    more sentences as the validation split."""
    dtype = resolve_precision(train["precision"], device)
    n = len(lengths) * 10 // 11
    train_split, valid_split = LengthsSplit(lengths[:n], vocab, 0), LengthsSplit(lengths[n:], vocab, 1)
    members = [Member(f"member{i}", member_cfg(arch, {**train, "epochs": 1}, i // settings_per_seed, 1 + i))
               for i in range(k)]
    sync(device)
    start = time.perf_counter()
    finished = pretrain_pack(members, train_split, valid_split, vocab, device, dtype, progress=False)
    sync(device)
    seconds = time.perf_counter() - start
    useful = k * int(lengths[:n].sum() + n)
    return {"members": k, "train_sentences": n, "valid_sentences": len(lengths) - n, "seconds": round(seconds, 2),
            "useful_tokens_per_s": round(useful / seconds),
            "failed": [name for name, result in finished.items() if isinstance(result, str)]}


def measure_separate(k, args, threads):
    """K processes of `--worker`, each warmed up, then timed together (each waits for a line
    on stdin once warm; all get it when all are warm): the useful tokens of all over the
    longest of their timed blocks."""
    command = [sys.executable, "-m", "benchmarks.study_throughput", "--worker", "--device", args.device, "--arch",
               args.arch, "--precision", args.precision, "--steps", str(args.steps), "--alone-warmup",
               str(args.alone_warmup), "--text-dir", str(args.text_dir)]
    env = {"OMP_NUM_THREADS": str(threads), "MKL_NUM_THREADS": str(threads)}
    procs = [subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
                              env={**os.environ, **env}) for _ in range(k)]
    for p in procs:
        if p.stdout.readline().strip() != "warm":
            raise SystemExit("a separate run failed before timing")
    for p in procs:
        p.stdin.write("go\n")
        p.stdin.flush()
    results = [json.loads(p.communicate()[0].strip().splitlines()[-1]) for p in procs]
    if any(p.returncode for p in procs):
        raise SystemExit("a separate run failed")
    useful = sum(r["useful_tokens_per_s"] * r["seconds"] for r in results)
    longest = max(r["seconds"] for r in results)
    return {"useful_tokens_per_s": round(useful / longest), "seconds_per_step": round(longest / args.steps, 4),
            "runs": k}


def wait_for_go():
    print("warm", flush=True)
    sys.stdin.readline()


def mps(start: bool):
    command = ["nvidia-cuda-mps-control", "-d"] if start else ["nvidia-cuda-mps-control"]
    try:
        subprocess.run(command, input=None if start else "quit\n", text=True, check=True, capture_output=True,
                       timeout=30)
        return True
    except (OSError, subprocess.SubprocessError) as error:
        print(f"CUDA MPS not available: {error}", file=sys.stderr)
        return False


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--arch", choices=ARCHS, default="paper")
    parser.add_argument("--precision", default=None, help="train.precision (default bf16 on a GPU, fp32 on a CPU)")
    parser.add_argument("--packs", type=int, nargs="+", default=None, help="pack sizes (default 1 4 16 32 GPU, 1 2 4 CPU)")
    parser.add_argument("--separate", type=int, nargs="*", default=None,
                        help="numbers of separate runs at once (default 4 on a GPU, 2 on a CPU)")
    parser.add_argument("--settings-per-seed", type=int, default=1,
                        help="pack members per seed: 1 (all replicates, the most padding), 4 (the stability study)")
    parser.add_argument("--mps", action="store_true", help="also time the separate runs under CUDA MPS")
    parser.add_argument("--steps", type=int, default=None, help="timed steps (default 30 GPU, 3 CPU)")
    parser.add_argument("--warmup-passes", type=int, default=None,
                        help="untimed passes over a pack's timed batches first (default 3 GPU: every shape captured; 1 CPU)")
    parser.add_argument("--alone-warmup", type=int, default=None,
                        help="untimed steps of the single runs (default 250 on a GPU: every batch shape's CUDA graph "
                             "captured, as train_throughput; 1 on a CPU)")
    parser.add_argument("--epoch", type=int, default=0, metavar="K",
                        help="also time one whole epoch of pretrain_pack with K members, validation included")
    parser.add_argument("--epoch-sentences", type=int, default=None, help="sentences of that epoch (default all)")
    parser.add_argument("--profile", type=int, default=0, metavar="K", help="also profile a pack of K (to --out .txt)")
    parser.add_argument("--text-dir", type=Path, default=SHARED)
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    device = torch.device(args.device)
    gpu = device.type == "cuda"
    args.precision = args.precision or ("bf16" if gpu else "fp32")
    args.steps = args.steps or (30 if gpu else 3)
    args.warmup_passes = args.warmup_passes if args.warmup_passes is not None else (3 if gpu else 1)
    args.alone_warmup = args.alone_warmup if args.alone_warmup is not None else (250 if gpu else 1)
    arch, vocab, batch_size = ARCHS[args.arch]
    lengths, source = dbpedia_lengths(args.text_dir)
    split = LengthsSplit(lengths, vocab)
    # the pipeline's steps as a stage and a packed study run them (CUDA graphs on a GPU)
    alone_train = train_config(args.precision, "auto", 4096 if gpu else 1024, batch_size)
    if args.worker:
        cfg = member_cfg(arch, alone_train, 0, 4)
        print(json.dumps(measure_step(cfg, split, vocab, device, args.steps, args.alone_warmup, wait_for_go)))
        return
    results = {"device": device_name(device), "torch": torch.__version__, "arch": args.arch, **arch, "vocab": vocab,
               "batch": batch_size, "precision": args.precision, "sentences": source,
               "settings_per_seed": args.settings_per_seed, "steps": args.steps, "pack_warmup_passes": args.warmup_passes,
               "alone_warmup": args.alone_warmup}
    probe = resolve_precision(args.precision, device) or torch.float32
    limit = matmul_rate(device, probe) / flops_per_token(arch, vocab)
    results["matmul_limit_tokens_per_s"] = round(limit)
    alone = measure_step(member_cfg(arch, alone_train, 0, 4), split, vocab, device, args.steps, args.alone_warmup)
    results["alone"] = {"useful_tokens_per_s": alone["useful_tokens_per_s"],
                        "seconds_per_step": round(alone["seconds"] / alone["steps"], 4),
                        "peak_memory_gb": alone["peak_memory_gb"]}
    print(json.dumps({"alone": results["alone"]}), flush=True)
    threads = torch.get_num_threads()
    for k in args.separate if args.separate is not None else ([4] if gpu else [2]):
        results[f"separate {k}"] = measure_separate(k, args, max(1, threads // k))
        print(json.dumps({f"separate {k}": results[f"separate {k}"]}), flush=True)
        if args.mps and gpu and mps(True):
            try:
                results[f"separate {k} mps"] = measure_separate(k, args, max(1, threads // k))
            finally:
                mps(False)
            print(json.dumps({f"separate {k} mps": results[f"separate {k} mps"]}), flush=True)
    pack_train = train_config(args.precision, "auto", 4096 if gpu else 1024, batch_size)
    for k in args.packs or ([1, 4, 16, 32] if gpu else [1, 2, 4]):
        try:
            results[f"pack {k}"] = measure_pack(k, arch, pack_train, split, vocab, device, args.steps, args.warmup_passes,
                                                args.settings_per_seed)
        except torch.OutOfMemoryError:
            results[f"pack {k}"] = {"error": "out of memory"}
        if gpu:  # the pack's graphs and their memory pool go before the next
            gc.collect()
            torch.cuda.empty_cache()
        print(json.dumps({f"pack {k}": results[f"pack {k}"]}), flush=True)
    if args.epoch:
        results[f"epoch of pack {args.epoch}"] = measure_packed_epoch(args.epoch, arch, pack_train,
                                                                      lengths[: args.epoch_sentences], vocab, device,
                                                                      args.settings_per_seed)
        print(json.dumps({f"epoch of pack {args.epoch}": results[f"epoch of pack {args.epoch}"]}), flush=True)
    if args.profile:
        profile_pack(args.profile, arch, pack_train, split, vocab, device, args.settings_per_seed,
                     (args.out or Path("study_throughput.json")).with_suffix(".profile.txt"))
    for name, found in results.items():
        if isinstance(found, dict) and "useful_tokens_per_s" in found:
            found["vs_alone"] = round(found["useful_tokens_per_s"] / results["alone"]["useful_tokens_per_s"], 2)
            found["share_of_matmul_limit"] = round(found["useful_tokens_per_s"] / limit, 4)
    report(results, args.out)


if __name__ == "__main__":
    main()
