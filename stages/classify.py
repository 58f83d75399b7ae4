"""classify@MODEL: the frozen-encoder classifier of a pretrained VAE (§4.2); curves and the
confusion matrix in reports/classify/MODEL, accuracies in reports/classify/MODEL/test.json."""
from pathlib import Path

from hsvae.analysis.reports import write_classification
from hsvae.data.splits import load_splits
from hsvae.models.store import load_vae
from hsvae.pipeline.stage import DATA, check_trained_with, device_and_dtype, run, stage_config, vae_argument
from hsvae.training.classify import classify_vae


def main():
    name = vae_argument()
    cfg = stage_config(f"classify/{name}")
    device, _ = device_and_dtype(cfg)
    splits = load_splits(DATA)
    path = Path("models") / f"{name}.pt"
    model, trained = load_vae(path, device)
    check_trained_with(path, name, trained, stage_config(f"pretrain/{name}"))
    with write_classification(Path("reports/classify") / name, splits, DATA) as (live, record):
        record(classify_vae(model, splits, cfg, device, live))


if __name__ == "__main__":
    run(main)
