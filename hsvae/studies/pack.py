"""`python -m hsvae.studies.pack SPEC`, run in a study's clone: pretrain the GRU VAEs of
several of the study's runs as packs (hsvae/training/pack.py), one pack per model, and leave
each run's finished checkpoints for its `dvc exp run`.

SPEC is a JSON file {"runs": [[experiment name, [overrides]], ...], "out": folder}. The runs
share their data and sizes (the study groups them so). Each run's settings are params.yaml as
`dvc exp run -S` composes it; the data are the preprocess stage's output for them (`dvc repro
preprocess`). Written: OUT/NAME/MODEL.pt for every finished member, and OUT/result.json
{experiment name: null, or the error that stopped one of its models}."""
import json
import subprocess
import sys
from pathlib import Path

import torch

from hsvae.atomic import atomic_path, write_json
from hsvae.data.splits import load_splits, vocabulary_size
from hsvae.models.registry import VAE_MODELS
from hsvae.pipeline.stage import DATA, device_and_dtype, load_params, stage_configs
from hsvae.training.pack import Member, pretrain_pack


def packable(params: dict) -> list:
    """The run's models a pack can train: GRU-encoder VAEs."""
    return [name for name in params["models"] if VAE_MODELS[name].encoder == "gru"]


def compose_params(overrides):
    """params.yaml as `dvc exp run -S` writes it (the same Hydra composition)."""
    from dvc.utils.hydra import compose_and_dump

    compose_and_dump(Path("params.yaml"), str(Path("conf").resolve()), None, "config", str(Path.cwd()), list(overrides))
    return load_params()


def main(spec_path):
    spec = json.loads(Path(spec_path).read_text())
    out = Path(spec["out"])
    configs = {}
    for name, overrides in spec["runs"]:
        params = compose_params(overrides)
        configs[name] = {model: stage_configs(params)[f"pretrain/{model}"] for model in packable(params)}
    # The runs share their data: the first run's params prepare them (the last composed is as good).
    subprocess.run(["dvc", "repro", "-q", "preprocess"], check=True)
    splits, vocab = load_splits(DATA), vocabulary_size(DATA)
    errors = {name: None for name, _ in spec["runs"]}
    models = {model for per_run in configs.values() for model in per_run}
    for model in sorted(models):
        members = [Member(name, per_run[model]) for name, per_run in configs.items() if model in per_run]
        device, dtype = device_and_dtype(members[0].cfg["train"])
        finished = pretrain_pack(members, splits["train"], splits["valid"], vocab, device, dtype)
        for name, result in finished.items():
            if isinstance(result, str):
                errors[name] = errors[name] or f"pretrain@{model}: {result}"
                continue
            path = out / name / f"{model}.pt"
            path.parent.mkdir(parents=True, exist_ok=True)
            with atomic_path(path) as tmp:
                torch.save(result, tmp)
    write_json(out / "result.json", errors)


if __name__ == "__main__":
    main(sys.argv[1])
