"""params.yaml: its typed settings, assembled from each section's declaration, which
`configure` (and `hsvae study`) check first; reading and composing it.

params.yaml is composed from conf/ (config.yaml and the preset group) by `dvc exp run`, so
what DVC records is what the stages use; stages read params.yaml and never overlay anything.
A wrong value fails at once with one line naming the key, the value and what is allowed.
"""
from functools import cache
from pathlib import Path
from typing import Annotated

import yaml
from pydantic import AfterValidator, Field, create_model

from hsvae.analysis.settings import AnalyzeSettings
from hsvae.core.config import ParamError, Section, check
from hsvae.data.settings import DataSettings
from hsvae.models.registry import BASELINES, VAE_MODELS
from hsvae.models.settings import ArchSettings
from hsvae.pipeline.stage import settings_of
from hsvae.training.settings import ClassifySettings, TrainSettings

__all__ = ["ParamError", "load", "read_yaml", "validate", "compose", "settings_model", "stage_settings"]

# The sections beside the models' own, which come from the registry.
SECTIONS = {"data": DataSettings, "arch": ArchSettings, "train": TrainSettings, "classify": ClassifySettings,
            "analyze": AnalyzeSettings}


def _names(allowed, empty: bool):
    def check_names(value):
        if (not isinstance(value, list) or any(v not in allowed for v in value) or len(set(value)) != len(value)
                or (not empty and not value)):
            raise ValueError(f"expected a list of distinct names from {', '.join(allowed)}"
                             f"{'' if empty else ' (at least one)'}")
        return value
    return Annotated[list, AfterValidator(check_names)]


def _model_sections() -> dict:
    """Each model's params section -> its config, the paper's model's (`model`, shared by hsvae
    and b_hsvae) first, as conf/config.yaml lists them."""
    paper = VAE_MODELS["hsvae"].section
    return {spec.section: spec.config for spec in sorted(VAE_MODELS.values(), key=lambda s: s.section != paper)}


def _sections() -> dict:
    """params.yaml's keys in file order: name -> (type, default)."""
    return {
        "preset": (str, Field("default", description="`-S preset=paper` or `dbpedia-cpu` (conf/preset/)")),
        **{name: (SECTIONS[name], SECTIONS[name]()) for name in ("data", "arch", "train")},
        "models": (_names(tuple(VAE_MODELS), empty=False), Field(
            ["vae", "vae_l1", "vae_l2", "mat_vae", "hsvae"],
            description=f"VAE models to pretrain, freeze and classify: {' '.join(VAE_MODELS)}")),
        "baselines": (_names(tuple(BASELINES), empty=True), Field(
            ["classifier"], description="supervised baselines: classifier (a GRU encoder trained with the head), "
            "bert (frozen BERT features)")),
        **{section: (config, config()) for section, config in _model_sections().items()},
        **{name: (SECTIONS[name], SECTIONS[name]()) for name in ("classify", "analyze")},
    }


def _registered() -> tuple:
    return tuple((name, spec.section, spec.config) for name, spec in VAE_MODELS.items())


@cache
def _settings_model(registered: tuple) -> type:
    return create_model("Settings", __base__=Section, **_sections())


def settings_model() -> type:
    """The model of all of params.yaml. Built from the model registry when called, so a model
    registered at run time (one class and one VAE_MODELS entry) has its section checked too."""
    return _settings_model(_registered())


def stage_settings(values: dict):
    """A stage's settings as configure makes them, typed: each params section by its declaration,
    `hparams` by the config of the stage's model."""
    types = {name: SECTIONS[name] for name in values if name in SECTIONS}
    if "hparams" in values:
        types["hparams"] = VAE_MODELS[values["name"]].config
    return settings_of(types).model_validate(values)


def _check_relations(settings):
    data = settings.data
    if data.min_length > data.max_length:
        raise ParamError(f"data.min_length = {data.min_length}: expected <= data.max_length = {data.max_length}")
    if data.corpus == "local" and not data.local_dir:
        raise ParamError("data.local_dir = '': expected the folder of the local corpus when data.corpus = local")


def validate(params: dict):
    """`params` (params.yaml) as typed settings; a wrong value is one ParamError line."""
    if not isinstance(params, dict):
        raise ParamError(f"params = {params!r}: expected a section with keys {', '.join(_sections())}")
    settings = check(settings_model(), params)
    _check_relations(settings)
    return settings


class _UniqueKeyLoader(yaml.SafeLoader):
    """YAML as DVC reads it: a key given twice in one section is an error, not the last value."""

    def construct_mapping(self, node, deep=False):
        seen = set()
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=True)
            if key in seen:
                raise ParamError(f"line {key_node.start_mark.line + 1}: duplicate key {key!r}; give it once")
            seen.add(key)
        return super().construct_mapping(node, deep)


def read_yaml(path):
    """The YAML file `path`; a missing file, bad YAML or a duplicate key is one line naming it."""
    path = Path(path)
    try:
        return yaml.load(path.read_text(encoding="utf-8"), Loader=_UniqueKeyLoader)
    except FileNotFoundError:
        raise ParamError(f"{path}: not found (run from the repository root)") from None
    except ParamError as error:
        raise ParamError(f"{path}, {error}") from None
    except (yaml.YAMLError, UnicodeDecodeError) as error:
        raise ParamError(f"{path}: not valid YAML ({error})".replace("\n", " ")) from None


def load(path="params.yaml") -> dict:
    path = Path(path)
    params = read_yaml(path)
    try:
        return validate(params)
    except ParamError as error:
        raise ParamError(f"{path}: {error}") from None


def compose(overrides=(), conf="conf") -> dict:
    """params.yaml as `dvc exp run` composes it from conf/ with Hydra overrides; an override
    Hydra refuses (an unknown key, a bad value) is a one-line ParamError."""
    from hydra import compose as hydra_compose
    from hydra import initialize_config_dir
    from omegaconf import OmegaConf

    with initialize_config_dir(str(Path(conf).resolve()), version_base=None):
        try:
            composed = hydra_compose("config", overrides=list(overrides))
        except Exception as error:  # Hydra's errors for an unknown key or a bad value: one line
            raise ParamError(f"-S {' '.join(overrides)}: {str(error).splitlines()[0]}") from None
        return OmegaConf.to_container(composed, resolve=True)
