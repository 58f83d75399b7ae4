"""Wall time of the pipeline's own training code (no DVC) for a set of models: preprocess a
pre-split corpus, pretrain each VAE, train its frozen-encoder classifier, with the params
given. Used to time the paper's configuration on a GPU.

    python benchmarks/pipeline_timing.py --corpus DIR --models vae hsvae -S preset=paper -S train.precision=bf16
"""
import argparse
import json
import time
from pathlib import Path

import torch
import yaml

from hsvae.analysis.evaluation import evaluate
from hsvae.data.preprocess import preprocess
from hsvae.data.splits import load_splits, vocabulary_size
from hsvae.pipeline.params import validate
from hsvae.pipeline.stage import device_and_dtype, stage_configs
from hsvae.training.classify import classify_vae
from hsvae.training.pretrain import pretrain


def set_key(params, dotted, value):
    *path, last = dotted.split(".")
    for key in path:
        params = params[key]
    params[last] = yaml.safe_load(value)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--corpus", type=Path, required=True, help="a folder in the `local` corpus format")
    parser.add_argument("--models", nargs="+", default=["vae", "mat_vae", "hsvae"])
    parser.add_argument("--work", type=Path, default=Path("data/downloads/timing"))
    parser.add_argument("-S", action="append", default=[], help="key=value, as dvc exp run -S")
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    params = yaml.safe_load(Path("params.yaml").read_text())
    params["data"].update(corpus="local", local_dir=str(args.corpus))
    for item in args.S:
        set_key(params, *item.split("=", 1))
    params = validate({**params, "models": args.models})
    configs = stage_configs(params)
    device, dtype = device_and_dtype(params["train"])
    results = {"device": torch.cuda.get_device_name() if device.type == "cuda" else "cpu",
               "precision": params["train"]["precision"], "arch": params["arch"], "train": params["train"]}
    start = time.perf_counter()
    stats = preprocess(args.corpus, args.work, params["data"], params["data"]["seed"])
    results["preprocess_s"] = time.perf_counter() - start
    results["sentences"] = {s: v["sentences"] for s, v in stats["splits"].items()}
    splits, vocab = load_splits(args.work), vocabulary_size(args.work)
    for name in args.models:
        start = time.perf_counter()
        model, history = pretrain(configs[f"pretrain/{name}"], splits["train"], splits["valid"], vocab, device, dtype,
                                  args.work / f"{name}.pt", progress=False)
        pretrain_s = time.perf_counter() - start
        start = time.perf_counter()
        model.eval().requires_grad_(False)
        test = evaluate(model, splits["test"], params["train"]["eval_batch_size"], device, seed=params["train"]["seed"])
        predictions = classify_vae(model, splits, configs[f"classify/{name}"], device)
        results[name] = {"pretrain_s": pretrain_s, "classify_s": time.perf_counter() - start,
                         "epochs": len(history), "valid_rec_first_last": [history[0]["valid/rec"], history[-1]["valid/rec"]],
                         "test_accuracy": float((predictions["test"] == splits["test"].labels).mean()),
                         "test_ah_sample": test["ah_sample"], "test_ah_mean": test["ah_mean"], "test_rec": test["rec"]}
        print(json.dumps({name: results[name]}), flush=True)
    if args.out:
        args.out.write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    main()
