"""Each stage's settings, from the checked params: the one place that says which params each
stage uses and which files it reads. `configure` (the only stage that reads params.yaml)
writes them to configs/STAGE.json and every later stage reads exactly its own file, which
dvc.yaml lists as its dependency: `-S model.alpha=8` changes only configs/pretrain/hsvae.json
and what reads the model.

Provenance, one record: a stage's `made_with` is every param that shaped its outputs, its own
and (transitively) its inputs', as dotted params.yaml keys; stages write it with their outputs,
with the digest of each file they were made from (`stage.made_from`). `inputs` names each file
a stage reads and the stage that makes it; `stage.check_inputs` compares each input's record
with this stage's `made_with` and with the files here now."""
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


def stage_configs(settings) -> dict:
    """configs/ file name (without .json) -> the settings that stage uses (a StageSettings)."""
    params = settings.params()

    def sections(*names):
        return {name: params[name] for name in names}

    data_made = _made(data=params["data"])
    configs = {"data": {**sections("data"), "made_with": data_made, "inputs": {RAW: "download"}}}
    analyzed = dict(data_made)
    for name in settings.models:
        section, model = VAE_MODELS[name].section, f"models/{name}.pt"
        pretrained = _made(data_made, **sections("arch", "train", section))
        configs[f"pretrain/{name}"] = {"name": name, **sections("arch", "train"), "hparams": params[section],
                                       "made_with": pretrained, "inputs": {DATA: "preprocess"}}
        configs[f"explore/{name}"] = {"name": name, "made_with": pretrained, "inputs": {
            DATA: "preprocess", model: f"pretrain@{name}", f"reports/codes/{name}.npz": f"pretrain@{name}"}}
        classified = _made(pretrained, **sections("classify"))
        configs[f"classify/{name}"] = {"name": name, **sections("train", "classify"), "made_with": classified,
                                       "inputs": {DATA: "preprocess", model: f"pretrain@{name}"}}
        analyzed.update(classified)
    for name in settings.baselines:
        classified = _made(data_made, **sections("arch", "train", "classify"))
        configs[f"baseline/{name}"] = {"name": name, **sections("arch", "train", "classify"), "made_with": classified,
                                       "inputs": {DATA: "preprocess"}}
        analyzed.update(classified)
    configs["analyze"] = {
        **sections("models", "baselines", "analyze"), "made_with": analyzed,  # what analyze reports on
        "inputs": {DATA: "preprocess",
                   **{f"reports/codes/{n}.npz": f"pretrain@{n}" for n in settings.models},
                   **{f"reports/explore/models/{n}.json": f"explore@{n}" for n in settings.models},
                   **{f"reports/classify/{n}": f"classify@{n}" for n in settings.models},
                   **{f"reports/classify/{n}": f"baseline@{n}" for n in settings.baselines}}}
    return {key: stage_settings(config) for key, config in configs.items()}
