"""Training throughput in useful (non-padding) tokens/s at the paper's architecture on real
DBpedia sentence lengths, against this machine's matmul rate, all measured in one run.

    python benchmarks/train_throughput.py [--device cpu|cuda] [--steps N] [--batch 256]

Configurations: naive fp32 (random batches padded to the batch maximum, GRUs run over the
padding, logits for every padded position), bucketed fp32 (the pipeline's training step:
length-bucketed batches, logits for real tokens only, fused chunked projection +
cross-entropy with --ce-chunk), bucketed bf16 (the same under autocast). Sentences: the
authors' DBpedia valid and test splits (../shared/data/hsvae-dbpedia, 28,000 sentences) when present, otherwise
synthetic lengths drawn from DBpedia's Table 2 range (1-60, mean 35)."""
import argparse
import json
import time
from pathlib import Path

import numpy as np
import torch

from hsvae.config import defaults_of
from hsvae.data.batching import bucketed_batches, collate, random_batches
from hsvae.device import autocast
from hsvae.models.hsvae import HSVAEConfig
from hsvae.models.nets import GRUDecoder
from hsvae.models.registry import build_vae

SHARED = Path(__file__).resolve().parents[1] / ".." / "shared" / "data" / "hsvae-dbpedia"
PAPER_ARCH = {"embedding_dim": 256, "hidden_dim": 512, "latent_dim": 32, "bert": ""}
HSVAE = defaults_of(HSVAEConfig)
VOCAB = 20_003


class PaddedDecoder(GRUDecoder):
    """Naive baseline: logits for every position, padding included, masked afterwards."""

    def reconstruction_loss(self, z, batch):
        tokens, lengths = batch.tokens, batch.lengths
        n, length = tokens.shape
        eos = torch.full((n, 1), 1, dtype=tokens.dtype, device=tokens.device)
        targets = torch.cat([tokens, torch.zeros_like(eos)], 1)
        targets[torch.arange(n, device=tokens.device), lengths] = 1
        mask = torch.arange(length + 1, device=tokens.device).unsqueeze(0) <= lengths.unsqueeze(1)
        embedded = self.embedding(torch.cat([eos, tokens], 1))
        states, _ = self.gru(torch.cat([embedded, z.to(embedded.dtype).unsqueeze(1).expand(-1, length + 1, -1)], -1))
        logits = self.output(states).float()
        token_loss = torch.nn.functional.cross_entropy(logits.transpose(1, 2), targets, reduction="none")
        return (token_loss * mask).sum(1)


def naive(model):
    """The same weights run the naive way: the decoder replaced by a PaddedDecoder holding them."""
    padded = PaddedDecoder(model.embedding, model.decoder.gru.hidden_size, model.latent_dim)
    padded.load_state_dict(model.decoder.state_dict())
    model.decoder = padded
    return model


def sentences(rng, folder=SHARED):
    if folder.exists():
        lines = (folder / "valid.txt").read_text().splitlines() + (folder / "test.txt").read_text().splitlines()
        lengths, source = np.array([len(line.split()) for line in lines]), "hsvae-dbpedia valid+test"
    else:
        lengths, source = np.clip(rng.normal(35, 12, 28_000).round(), 1, 60).astype(int), "synthetic DBpedia-like lengths"
    return [rng.integers(3, VOCAB, size=n) for n in lengths], lengths, source


def matmul_rate(device, dtype, n=2048, seconds=2.0):
    a, b = torch.randn(n, n, device=device, dtype=dtype), torch.randn(n, n, device=device, dtype=dtype)
    for _ in range(3):
        a @ b
    sync(device)
    repeats, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        a @ b
        repeats += 1
    sync(device)
    return 2 * n**3 * repeats / (time.perf_counter() - start)


def sync(device):
    if device.type == "cuda":
        torch.cuda.synchronize()


def flops_per_token(arch, vocab):
    """Training FLOPs per token (forward x 3): encoder GRU, decoder GRU, vocabulary projection."""
    e, h, d = arch["embedding_dim"], arch["hidden_dim"], arch["latent_dim"]
    macs = 3 * (e * h + h * h) + 3 * ((e + d) * h + h * h) + h * vocab
    return 3 * 2 * macs


def measure(model, optimizer, data, order, device, dtype, steps):
    """Useful tokens/s over `steps` steps after two warm-up steps. Before each step the matmul
    rate of the step's dtype is probed for half a second (not timed): a shared machine's speed
    drifts, and the fraction of the limit compares the step with the rate of the same moment."""
    useful = processed = 0
    seconds, probes = 0.0, []
    for i, indices in enumerate(order[: steps + 2]):
        if i >= 2:
            probes.append(matmul_rate(device, dtype or torch.float32, seconds=0.5))
            sync(device)
            start = time.perf_counter()
        batch = collate([data[j] for j in indices], np.zeros(len(indices))).to(device)
        with autocast(device, dtype):
            loss = model.loss_terms(batch)["total"]
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        if i >= 2:
            sync(device)
            seconds += time.perf_counter() - start
            useful += int(batch.lengths.sum()) + len(indices)  # words + <eos>
            processed += batch.tokens.numel() + len(indices)
    return {"useful_tokens_per_s": useful / seconds, "padding_share": 1 - useful / processed, "seconds": seconds,
            "matmul_gflops": float(np.mean(probes)) / 1e9}


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--steps", type=int, default=None)
    parser.add_argument("--batch", type=int, default=256)
    parser.add_argument("--out", default=None)
    parser.add_argument("--ce-chunk", type=int, default=1024, help="train.ce_chunk of the bucketed configurations")
    parser.add_argument("--text-dir", type=Path, default=SHARED, help="folder with valid.txt and test.txt")
    args = parser.parse_args()
    device = torch.device(args.device)
    steps = args.steps or (40 if device.type == "cuda" else 6)
    rng = np.random.default_rng(0)
    data, lengths, source = sentences(rng, args.text_dir)
    bf16 = torch.bfloat16
    results = {"device": torch.cuda.get_device_name() if device.type == "cuda" else f"cpu x{torch.get_num_threads()}",
               "ce_chunk": args.ce_chunk,
               "sentences": source, "batch": args.batch, "steps": steps,
               "train_flops_per_token": flops_per_token(PAPER_ARCH, VOCAB)}
    bucketed = bucketed_batches(lengths, args.batch, rng)  # the same batches in both precisions
    configs = {"naive_fp32": (random_batches(len(data), args.batch, rng), None),
               "bucketed_fp32": (bucketed, None),
               "bucketed_bf16": (bucketed, bf16)}
    for name, (order, dtype) in configs.items():
        torch.manual_seed(0)
        model = build_vae("hsvae", VOCAB, PAPER_ARCH, HSVAE, ce_chunk=0 if name.startswith("naive") else args.ce_chunk)
        if name.startswith("naive"):
            naive(model)
        model.to(device)
        optimizer = torch.optim.Adam(model.parameters(), lr=8e-4, foreach=True)
        results[name] = measure(model, optimizer, data, order, device, dtype, steps)
    base = results["naive_fp32"]["useful_tokens_per_s"]
    for name in configs:
        limit = results[name]["matmul_gflops"] * 1e9 / results["train_flops_per_token"]
        results[name]["vs_naive"] = results[name]["useful_tokens_per_s"] / base
        results[name]["fraction_of_matmul_limit"] = results[name]["useful_tokens_per_s"] / limit
    paper_tokens = 140_000 * 15 * (float(np.mean(lengths)) + 1)
    results["paper_dbpedia_run_minutes_bucketed_bf16"] = paper_tokens / results["bucketed_bf16"]["useful_tokens_per_s"] / 60
    text = json.dumps(results, indent=2)
    print(text)
    if args.out:
        Path(args.out).write_text(text + "\n")


if __name__ == "__main__":
    main()
