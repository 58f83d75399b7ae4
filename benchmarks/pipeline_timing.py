"""One whole run of the pipeline's own training code (no DVC) per model, against its training
step on the same device and data: preprocess a pre-split corpus, pretrain each VAE (with its
per-epoch validation), evaluate it and train its frozen-encoder classifier. Params are
composed from conf/ with the -S overrides exactly as `dvc exp run -S` composes them.

    python -m benchmarks.pipeline_timing --corpus DIR --models hsvae -S preset=paper -S train.precision=bf16

The end-to-end rate is the training tokens of all epochs over the pretraining wall time;
the step rate is `train_throughput.measure_step` of the same stage config on the same split."""
import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
import torch

from benchmarks.train_throughput import device_name, measure_step
from hsvae.analysis.evaluation import evaluate
from hsvae.data.preprocess import preprocess
from hsvae.data.splits import load_splits, vocabulary_size
from hsvae.core.errors import UserError
from hsvae.pipeline.params import compose, validate
from hsvae.core.device import device_and_dtype
from hsvae.pipeline.configs import stage_configs
from hsvae.training.classify import classify_vae
from hsvae.training.pretrain import pretrain


def composed_params(corpus, models, overrides):
    """params.yaml as `dvc exp run -S ...` would write it, for a local corpus and `models`."""
    overrides = [*overrides, "data.corpus=local", f"data.local_dir={corpus}", f"models=[{','.join(models)}]"]
    return validate(compose(overrides))


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--corpus", type=Path, required=True, help="a folder in the `local` corpus format")
    parser.add_argument("--models", nargs="+", default=["vae", "mat_vae", "hsvae"])
    parser.add_argument("--work", type=Path, default=Path("data/downloads/timing"))
    parser.add_argument("-S", action="append", default=[], metavar="KEY=VALUE", help="as dvc exp run -S")
    parser.add_argument("--step-steps", type=int, default=None,
                        help="training steps timed for the step rate (default 200 on a GPU, 10 on a CPU)")
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    try:
        params = composed_params(args.corpus.resolve(), args.models, args.S)
    except UserError as error:
        sys.exit(f"error: {error}")
    configs = stage_configs(params)
    device, dtype = device_and_dtype(params.train)
    train = params.train
    results = {"device": device_name(device), "torch": torch.__version__, "overrides": args.S,
               "preset": params.preset, "precision": train.precision, "arch": params.arch.params(),
               "train": train.params()}
    print(json.dumps({k: results[k] for k in ("device", "torch", "preset", "precision", "arch")}), flush=True)
    start = time.perf_counter()
    stats = preprocess(args.corpus, args.work, params.data, params.data.seed)
    results["preprocess_s"] = time.perf_counter() - start
    results["sentences"] = {s: v["sentences"] for s, v in stats["splits"].items()}
    splits, vocab = load_splits(args.work), vocabulary_size(args.work)
    tokens_per_epoch = int(np.sum(splits["train"].lengths + 1))
    gpu = device.type == "cuda"
    for name in args.models:
        cfg = configs[f"pretrain/{name}"]
        start = time.perf_counter()
        model, history = pretrain(cfg, splits["train"], splits["valid"], vocab, device, dtype,
                                  args.work / f"{name}.pt", progress=False)
        pretrain_s = time.perf_counter() - start
        start = time.perf_counter()
        model.eval().requires_grad_(False)
        test = evaluate(model, splits["test"], train.eval_batch_size, device, seed=train.seed)
        predictions = classify_vae(model, splits, configs[f"classify/{name}"], device)
        classify_s = time.perf_counter() - start
        end_to_end = tokens_per_epoch * len(history) / pretrain_s
        step = measure_step(cfg, splits["train"], vocab, device, args.step_steps or (200 if gpu else 10),
                            warmup=40 if gpu else 2)
        results[name] = {"pretrain_s": round(pretrain_s, 2), "classify_s": round(classify_s, 2),
                         "epochs": len(history), "run_useful_tokens_per_s": round(end_to_end),
                         "step": step, "run_vs_step": round(end_to_end / step["useful_tokens_per_s"], 3),
                         "valid_rec_first_last": [history[0]["valid/rec"], history[-1]["valid/rec"]],
                         "test_accuracy": float((predictions["test"] == splits["test"].labels).mean()),
                         "test_ah_sample": test["ah_sample"], "test_ah_mean": test["ah_mean"], "test_rec": test["rec"]}
        print(json.dumps({name: results[name]}), flush=True)
    if args.out:
        args.out.write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    main()
