"""pretrain@MODEL: train one VAE, then evaluate it on the test split.

models/MODEL.pt; per-epoch logs in reports/pretrain/MODEL (DVCLive); the VAE's own test
metrics (reconstruction, KL terms, Average Hoyer variants) in reports/pretrain/MODEL/test.json;
the test split's posterior means (and mean q(gamma|x) where the model has gamma) in
reports/codes/MODEL.npz. The model records what it was made with (params and data/processed),
the codes that and the model."""
import json
from pathlib import Path

import numpy as np

from hsvae.analysis.evaluation import test_outputs
from hsvae.core.atomic import atomic_live, atomic_path, write_json
from hsvae.data.vocabulary import Vocabulary
from hsvae.data.splits import load_splits, vocabulary_size
from hsvae.core.device import device_and_dtype, matmul_precision
from hsvae.models.registry import VAE_MODELS
from hsvae.models.settings import ArchSettings
from hsvae.pipeline.stage import DATA, check_inputs, made_from, model_argument, run, stage_config
from hsvae.training.pretrain import pretrain
from hsvae.training.settings import TrainSettings


def main():
    name = model_argument(VAE_MODELS)
    cfg = stage_config(f"pretrain/{name}", arch=ArchSettings, train=TrainSettings, hparams=VAE_MODELS[name].config)
    device, dtype = device_and_dtype(cfg.train)
    check_inputs(cfg)
    splits = load_splits(DATA)
    cfg = cfg.model_copy(update={"made_with": made_from(cfg, DATA)})  # what the model records
    model_path = Path("models") / f"{name}.pt"
    out, checkpoint = Path("reports/pretrain") / name, Path("checkpoints") / f"{name}.pt"
    with matmul_precision(cfg.train.precision), atomic_live(out) as live:
        model, _ = pretrain(cfg, splits["train"], splits["valid"], vocabulary_size(DATA), device, dtype,
                            model_path, checkpoint=checkpoint, live=live,
                            vocab_words=Vocabulary.load(Path(DATA) / "vocab.txt").words)
    checkpoint.unlink(missing_ok=True)
    metrics, codes = test_outputs(model, splits["test"], cfg.train.eval_batch_size, device, cfg.train.seed)
    write_json(out / "test.json", metrics)
    with atomic_path(Path("reports/codes") / f"{name}.npz") as tmp:
        with open(tmp, "wb") as f:
            np.savez(f, **codes, made_with=json.dumps(made_from(cfg, model_path)))


if __name__ == "__main__":
    run(main)
