"""classify@MODEL: the frozen-encoder classifier of a pretrained VAE (§4.2); curves and the
confusion matrix in reports/classify/MODEL, accuracies in reports/classify/MODEL/test.json."""
from pathlib import Path

from hsvae.training.reports import write_classification
from hsvae.data.splits import load_splits
from hsvae.core.device import device_and_dtype, matmul_precision
from hsvae.models.registry import VAE_MODELS
from hsvae.models.store import load_vae
from hsvae.pipeline.stage import (DATA, check_inputs, made_from, model_argument, run, stage_config,
                                  write_record)
from hsvae.training.classify import classify_vae
from hsvae.training.settings import ClassifySettings, TrainSettings


def main():
    name = model_argument(VAE_MODELS)
    cfg = stage_config(f"classify/{name}", train=TrainSettings, classify=ClassifySettings)
    device, _ = device_and_dtype(cfg.train)
    check_inputs(cfg)
    splits = load_splits(DATA)
    path = Path("models") / f"{name}.pt"
    model, _ = load_vae(path, device, advice=f"re-run pretrain@{name} (dvc repro)")
    out = Path("reports/classify") / name
    with matmul_precision(cfg.train.precision), write_classification(out, splits, DATA) as (live, record):
        record(classify_vae(model, splits, cfg, device, live))
    write_record(out, made_from(cfg, DATA, path))


if __name__ == "__main__":
    run(main)
