"""baseline@NAME: a supervised baseline (the simple classifier, frozen BERT features);
curves and the confusion matrix in reports/classify/NAME, accuracies in test.json."""
from pathlib import Path

from hsvae.analysis.reports import write_classification
from hsvae.data.splits import load_splits, vocabulary_size
from hsvae.pipeline.stage import DATA, baseline_argument, device_and_dtype, run, stage_config
from hsvae.training.classify import BASELINES


def main():
    name = baseline_argument()
    cfg = stage_config(f"baseline/{name}")
    device, dtype = device_and_dtype(cfg["train"])
    splits = load_splits(DATA)
    with write_classification(Path("reports/classify") / name, splits, DATA) as (live, record):
        record(BASELINES[name](cfg, splits, vocabulary_size(DATA), device, dtype, live))


if __name__ == "__main__":
    run(main)
