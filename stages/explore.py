"""explore@MODEL: what each dimension of MODEL's codes means, on the test split (the codes
pretrain wrote): reports/explore/models/MODEL.json and MODEL.html. analyze compares the models
(reports/explore/index.html, the scores in reports/explore/metrics.json)."""
from pathlib import Path

import numpy as np

from hsvae.analysis.explore import explore, write_explorer
from hsvae.analysis.figures import display_name
from hsvae.core.errors import reading
from hsvae.data.splits import Split, class_names
from hsvae.models.registry import VAE_MODELS
from hsvae.core.errors import safe_load
from hsvae.pipeline.stage import DATA, check_inputs, made_from, model_argument, run, stage_config

OUT = Path("reports/explore/models")


def main():
    name = model_argument(VAE_MODELS)
    cfg = stage_config(f"explore/{name}")
    check_inputs(cfg)
    model_path, codes_path = Path("models") / f"{name}.pt", Path("reports/codes") / f"{name}.npz"
    saved = safe_load(model_path, advice=f"re-run pretrain@{name} (dvc repro)")["config"]
    with reading(codes_path, f"pretrain@{name}"), np.load(codes_path) as codes:
        mean, gamma = codes["mean"], codes["gamma"] if "gamma" in codes else None
    test, train = Split(DATA, "test"), Split(DATA, "train")
    explored = explore(mean, gamma, saved["dimension_scale"], test.texts, test.labels, class_names(DATA), train.texts)
    title = f"{display_name(name)}: what each dimension means (test split of {cfg.made_with['data.corpus']})"
    write_explorer(OUT, name, title, explored, made_from(cfg, DATA, codes_path))


if __name__ == "__main__":
    run(main)
