"""Each stage's settings, from the checked params: the one place that says which params each
stage uses. `configure` (the only stage that reads params.yaml) writes them to
configs/STAGE.json and every later stage reads exactly its own file, which dvc.yaml lists as
its dependency: `-S model.alpha=8` changes only configs/pretrain/hsvae.json and what reads
the model.

Provenance: a stage's settings carry `made_with` — every param that shaped its outputs, its
own and (transitively) its inputs', as dotted params.yaml keys — and `inputs` — for each
file it reads, the stage that makes it and that stage's `made_with`. Stages write their
`made_with` with their outputs and check each input's record against `inputs`
(hsvae.pipeline.stage.check_made_with), so one mechanism covers every param."""
from hsvae.models.registry import VAE_MODELS
from hsvae.pipeline.params import stage_settings
from hsvae.pipeline.stage import DATA, RAW

# Params that change how a stage works, not what it makes (the processes that tokenise).
NOT_SHAPING = {"data.workers"}


def flat(sections: dict, prefix="") -> dict:
    """{"model": {"alpha": 4.0}} -> {"model.alpha": 4.0}; lists stay values."""
    out = {}
    for key, value in sections.items():
        if isinstance(value, dict):
            out.update(flat(value, f"{prefix}{key}."))
        else:
            out[f"{prefix}{key}"] = value
    return out


def _made(*records, **sections) -> dict:
    made = {}
    for record in records:
        made.update(record)
    made.update({k: v for k, v in flat(sections).items() if k not in NOT_SHAPING})
    return made


def _input(stage: str, made_with: dict) -> dict:
    return {"stage": stage, "made_with": made_with}


def stage_configs(settings) -> dict:
    """configs/ file name (without .json) -> the settings that stage uses (a StageSettings)."""
    params = settings.params()

    def sections(*names):
        return {name: params[name] for name in names}

    data_made = _made(data=params["data"])
    processed = {DATA: _input("preprocess", data_made)}
    configs = {"data": {**sections("data"), "made_with": data_made, "inputs": {RAW: _input("download", data_made)}}}
    pretrained, classified = {}, {}
    for name in settings.models:
        section = VAE_MODELS[name].section
        pretrained[name] = _made(data_made, **sections("arch", "train", section))
        configs[f"pretrain/{name}"] = {"name": name, **sections("arch", "train", section),
                                       "made_with": pretrained[name], "inputs": processed}
        configs[f"explore/{name}"] = {
            "name": name, "made_with": pretrained[name],
            "inputs": {**processed, **{f"{folder}/{name}{ext}": _input(f"pretrain@{name}", pretrained[name])
                                       for folder, ext in (("models", ".pt"), ("reports/codes", ".npz"))}}}
        classified[name] = _made(pretrained[name], **sections("classify"))
        configs[f"classify/{name}"] = {
            "name": name, **sections("train", "classify"), "made_with": classified[name],
            "inputs": {**processed, f"models/{name}.pt": _input(f"pretrain@{name}", pretrained[name])}}
    for name in settings.baselines:
        classified[name] = _made(data_made, **sections("arch", "train", "classify"))
        configs[f"baseline/{name}"] = {"name": name, **sections("arch", "train", "classify"),
                                       "made_with": classified[name], "inputs": processed}
    configs["analyze"] = {
        **sections("models", "baselines", "analyze", "data", "arch",
                   *{VAE_MODELS[n].section for n in settings.models}),
        "inputs": {**processed,
                   **{f"reports/codes/{n}.npz": _input(f"pretrain@{n}", pretrained[n]) for n in settings.models},
                   **{f"reports/explore/models/{n}.json": _input(f"explore@{n}", pretrained[n])
                      for n in settings.models},
                   **{f"reports/classify/{n}": _input(f"{'classify' if n in pretrained else 'baseline'}@{n}",
                                                      made) for n, made in classified.items()}}}
    return {key: stage_settings(config) for key, config in configs.items()}
