"""The model registry: what callers know of a model without building it. A new model is one
class (with its config section) and one entry here."""
from dataclasses import dataclass

from hsvae.core.config import Section
from hsvae.models.hsvae import HSVAE, HSVAEConfig
from hsvae.models.mat_vae import MatVAE, MatVAEConfig
from hsvae.models.settings import ArchSettings
from hsvae.models.vae import L2VAE, VAE, PenalisedVAE, PenalisedVAEConfig, VAEConfig


@dataclass(frozen=True)
class ModelSpec:
    """What callers need to know of a model without building it."""
    cls: type
    config: type
    section: str          # its params.yaml section
    encoder: str = "gru"  # gru | bert (BERT models read the sentences' text, at bert_lr)
    sparse: bool = False  # a sparse model (spike-and-slab prior): Fig. 3 tracks it; studies match it with a dense VAE

    @property
    def has_gamma(self) -> bool:
        return self.cls.has_gamma


# The paper's model, HSVAE, reads the `model` section (hsvae and b_hsvae alike); the
# compared models keep a section of their own.
VAE_MODELS = {
    "vae": ModelSpec(VAE, VAEConfig, "vae"),
    "vae_l1": ModelSpec(PenalisedVAE, PenalisedVAEConfig, "vae_l1"),
    "vae_l2": ModelSpec(L2VAE, PenalisedVAEConfig, "vae_l2"),
    "mat_vae": ModelSpec(MatVAE, MatVAEConfig, "mat_vae", sparse=True),
    "hsvae": ModelSpec(HSVAE, HSVAEConfig, "model", sparse=True),
    "b_vae": ModelSpec(VAE, VAEConfig, "b_vae", encoder="bert"),
    "b_hsvae": ModelSpec(HSVAE, HSVAEConfig, "model", encoder="bert", sparse=True),
}


# The dense VAE sparse models are compared with at matched reconstruction (§4.2), over its psi
DENSE_REFERENCE = "vae"


@dataclass(frozen=True)
class BaselineSpec:
    """A supervised baseline (`baselines:`): the encoder it classifies with."""
    encoder: str  # gru: a GRU encoder trained with its head; bert: a frozen BERT under the head


BASELINES = {
    "classifier": BaselineSpec("gru"),
    "bert": BaselineSpec("bert"),
}


def encoders_in_use(models, baselines) -> set:
    """The encoder kinds the models and baselines named use (gru, bert)."""
    return {VAE_MODELS[m].encoder for m in models} | {BASELINES[b].encoder for b in baselines}


def build_vae(name: str, vocab_size: int, arch: ArchSettings, hparams: Section, ce_chunk: int = 0) -> VAE:
    """A VAE from its name, the `arch` settings and its own section's settings."""
    spec = VAE_MODELS[name]
    return spec.cls(vocab_size, arch.embedding_dim, arch.hidden_dim, arch.latent_dim, hparams,
                    encoder=spec.encoder, bert=arch.bert, ce_chunk=ce_chunk)
