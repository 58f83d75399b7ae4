"""baseline@NAME: a supervised baseline (the simple classifier, frozen BERT features);
curves and the confusion matrix in reports/classify/NAME, accuracies in test.json."""
from pathlib import Path

from hsvae.training.reports import write_classification
from hsvae.data.splits import load_splits, vocabulary_size
from hsvae.core.device import device_and_dtype, matmul_precision
from hsvae.pipeline.stage import DATA, check_inputs, made_from, model_argument, run, stage_config, write_record
from hsvae.models.registry import BASELINES
from hsvae.models.settings import ArchSettings
from hsvae.training.classify import TRAIN_BASELINE
from hsvae.training.settings import ClassifySettings, TrainSettings


def main():
    name = model_argument(BASELINES)
    cfg = stage_config(f"baseline/{name}", arch=ArchSettings, train=TrainSettings, classify=ClassifySettings)
    device, dtype = device_and_dtype(cfg.train)
    check_inputs(cfg)
    splits = load_splits(DATA)
    out = Path("reports/classify") / name
    with matmul_precision(cfg.train.precision), write_classification(out, splits, DATA) as (live, record):
        record(TRAIN_BASELINE[BASELINES[name].encoder](cfg, splits, vocabulary_size(DATA), device, dtype, live))
    write_record(out, made_from(cfg, DATA))


if __name__ == "__main__":
    run(main)
