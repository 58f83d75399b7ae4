"""The paper's models (§3, §4.1.2). Each is its ELBO: `loss_terms(batch)` returns the
reconstruction, each KL or penalty, and the weighted total (all batch means).

Every VAE also offers `encode(batch, n_samples)` -> (K, B, D) posterior samples and
`posterior_mean(batch)` -> (B, D); HSVAE adds `gamma_mean(batch)` -> (B, D).
"""
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn
from torch.distributions import Beta, Normal, kl_divergence

from hsvae.batching import PAD
from hsvae.config import from_section, param
from hsvae.distributions import SpikeAndSlab, clamp_straight_through, monte_carlo_kl
from hsvae.mmd import mmd
from hsvae.nets import GRUDecoder, build_encoder


@dataclass(frozen=True)
class VAEConfig:
    psi: float = param(0.1, ge=0, doc="KL weight (< 1 against KL collapse, paper §4.1.2)")


class VAE(nn.Module):
    """Gaussian posterior, N(0, I) prior, KL weighted by psi (< 1 against KL collapse)."""

    # True when the loss treats a batch as a sample of the aggregate posterior q(z): such a
    # model trains on random batches, not on length buckets.
    batch_is_sample = False

    def __init__(self, vocab_size, embedding_dim, hidden_dim, latent_dim, config=VAEConfig(), encoder="gru", bert="",
                 ce_chunk=0):
        super().__init__()
        self.config = config
        self.embedding = nn.Embedding(vocab_size, embedding_dim, padding_idx=PAD)
        self.encoder = build_encoder(encoder, self.embedding, hidden_dim, bert)
        self.decoder = GRUDecoder(self.embedding, hidden_dim, latent_dim, ce_chunk)
        self.latent_dim = latent_dim
        self._build_heads(self.encoder.output_dim, latent_dim)

    def prior_z(self, device) -> Normal:
        return Normal(torch.zeros(self.latent_dim, device=device), 1.0)

    def _build_heads(self, feature_dim, latent_dim):
        self.loc_head = nn.Linear(feature_dim, latent_dim)
        self.scale_head = nn.Linear(feature_dim, latent_dim)

    def slab(self, features):
        # Heads run in fp32 under autocast: the distributions' math needs the precision.
        features = features.float()
        with torch.autocast(features.device.type, enabled=False):
            return self.loc_head(features), F.softplus(self.scale_head(features)) + 1e-5

    def posterior(self, features) -> Normal:
        return Normal(*self.slab(features))

    def features(self, batch, features=None):
        """The encoder's features of `batch`, unless the caller already has them."""
        return self.encoder(batch) if features is None else features

    def gaussian_terms(self, batch, features=None):
        """q(z|x), reconstruction and closed-form KL against N(0, I) for one sample of z."""
        q_z = self.posterior(self.features(batch, features))
        rec = self.decoder.reconstruction_loss(q_z.rsample(), batch).mean()
        kl_z = kl_divergence(q_z, self.prior_z(q_z.loc.device)).sum(-1).mean()
        return q_z, rec, kl_z

    def loss_terms(self, batch, features=None):
        _, rec, kl_z = self.gaussian_terms(batch, features)
        return {"rec": rec, "kl_z": kl_z, "total": rec + self.config.psi * kl_z}

    # The frozen-encoder classifier samples from cached encoder features: *_from_features.
    def sample_from_features(self, features, n_samples=1):
        return self.posterior(features).rsample((n_samples,))

    def mean_from_features(self, features):
        return self.posterior(features).mean

    def encode(self, batch, n_samples=1):
        """(K, B, D) posterior samples of z."""
        return self.sample_from_features(self.encoder(batch), n_samples)

    def posterior_mean(self, batch):
        return self.mean_from_features(self.encoder(batch))


@dataclass(frozen=True)
class PenalisedVAEConfig:
    psi: float = param(0.1, ge=0, doc="KL weight")
    weight: float = param(0.01, ge=0, doc="weight of the L1/L2 penalty on mu and sigma of q(z|x)")


class PenalisedVAE(VAE):
    """VAE with an L1 or L2 penalty (`norm`), weighted by `weight`, on the activations mu and sigma of q(z|x)."""

    norm = "l1"

    def loss_terms(self, batch, features=None):
        q_z, rec, kl_z = self.gaussian_terms(batch, features)
        activations = torch.cat([q_z.loc, q_z.scale], -1)
        penalty = (activations.abs() if self.norm == "l1" else activations**2).sum(-1).mean()
        return {"rec": rec, "kl_z": kl_z, self.norm: penalty,
                "total": rec + self.config.psi * kl_z + self.config.weight * penalty}


class L2VAE(PenalisedVAE):
    norm = "l2"


@dataclass(frozen=True)
class MatVAEConfig:
    psi: float = param(0.01, ge=0, doc="KL weight; < 1 as for every model (§4.1.2)")
    lam: float = param(0.01, ge=0, key="lambda", doc="MMD weight")
    gamma: float = param(0.8, ge=0, le=1, doc="prior spike probability")
    spike_scale: float = param(0.05, gt=0, doc="standard deviation of the spike")


class MatVAE(VAE):
    """Mathieu et al. (2019): Gaussian posterior, spike-and-slab prior with fixed gamma;
    objective E[log p(x|z)] - psi KL(q(z|x) || p(z)) - lambda MMD(q(z), p(z))."""

    batch_is_sample = True  # the MMD compares the batch's codes with prior samples

    def prior_z(self, device) -> SpikeAndSlab:
        zeros = torch.zeros(self.latent_dim, device=device)
        return SpikeAndSlab(zeros + self.config.gamma, zeros, zeros + 1.0, self.config.spike_scale)

    def loss_terms(self, batch, features=None):
        q_z = self.posterior(self.features(batch, features))
        z = q_z.rsample()
        prior = self.prior_z(z.device)
        rec = self.decoder.reconstruction_loss(z, batch).mean()
        kl_z = monte_carlo_kl(q_z, prior, z).mean()  # no closed form against a mixture
        divergence = mmd(z, prior.sample((z.shape[0],)))
        return {"rec": rec, "kl_z": kl_z, "mmd": divergence,
                "total": rec + self.config.psi * kl_z + self.config.lam * divergence}


@dataclass(frozen=True)
class HSVAEConfig:
    alpha: float = param(4.0, gt=0, doc="Beta prior on gamma (the spike probability); alpha > beta -> sparser")
    beta: float = param(1.0, gt=0, doc="Beta prior on gamma")
    psi: float = param(0.01, ge=0, doc="weight of KL_z")
    lam: float = param(0.01, ge=0, key="lambda", doc="weight of KL_gamma")
    temperature: float = param(0.5, gt=0, doc="Binary Concrete temperature of the spike/slab switch")
    spike_scale: float = param(0.05, gt=0, doc="standard deviation of the spike")
    beta_clamp: tuple = param((0.5, 100.0), ge=1e-3, le=1e4,
                              doc="Beta posterior parameters clamped here in training (gradient passed through)")


class HSVAE(VAE):
    """Hierarchical sparse VAE (§3): gamma ~ Beta(a(x), b(x)) is each dimension's spike
    probability, z | gamma ~ spike-and-slab. Prior Beta(alpha, beta), p(z|gamma) with slab N(0, 1).
    Loss = rec + psi KL_z (single-sample, log-sum-exp mixture densities) + lambda KL_gamma (closed form)."""

    def prior_gamma(self, like: torch.Tensor) -> Beta:
        return Beta(torch.full_like(like, self.config.alpha), torch.full_like(like, self.config.beta))

    def prior_z(self, gamma: torch.Tensor) -> SpikeAndSlab:
        return SpikeAndSlab(gamma, torch.zeros_like(gamma), torch.ones_like(gamma), self.config.spike_scale)

    def _build_heads(self, feature_dim, latent_dim):
        super()._build_heads(feature_dim, latent_dim)
        self.a_head = nn.Linear(feature_dim, latent_dim)
        self.b_head = nn.Linear(feature_dim, latent_dim)

    def q_gamma(self, features, clamp=True) -> Beta:
        """q(gamma|x). Training clamps its parameters to `beta_clamp` (the authors' guard against
        NaNs); analysis reads the unclamped posterior, as the authors' analysis code does."""
        features = features.float()
        with torch.autocast(features.device.type, enabled=False):
            a = F.softplus(self.a_head(features)) + 1e-5
            b = F.softplus(self.b_head(features)) + 1e-5
        if clamp:
            a, b = (clamp_straight_through(v, *self.config.beta_clamp) for v in (a, b))
        return Beta(a, b)

    def posterior_parts(self, features):
        """q(gamma|x) (clamped, as in training) and the slab's (loc, scale)."""
        features = features.float()
        return self.q_gamma(features), *self.slab(features)

    def q_z(self, gamma, loc, scale):
        return SpikeAndSlab(gamma, loc, scale, self.config.spike_scale, self.config.temperature)

    def loss_terms(self, batch, features=None):
        q_gamma, loc, scale = self.posterior_parts(self.features(batch, features))
        gamma = q_gamma.rsample()
        q_z = self.q_z(gamma, loc, scale)
        z = q_z.rsample()
        rec = self.decoder.reconstruction_loss(z, batch).mean()
        kl_z = monte_carlo_kl(q_z, self.prior_z(gamma), z).mean()
        kl_gamma = kl_divergence(q_gamma, self.prior_gamma(loc)).sum(-1).mean()
        return {"rec": rec, "kl_z": kl_z, "kl_gamma": kl_gamma,
                "total": rec + self.config.psi * kl_z + self.config.lam * kl_gamma}

    def sample_from_features(self, features, n_samples=1):
        """K samples of z, each with its own gamma sample."""
        q_gamma, loc, scale = self.posterior_parts(features)
        return self.q_z(q_gamma.rsample((n_samples,)), loc, scale).rsample()

    def mean_from_features(self, features):
        """E[z|x] = (1 - E[gamma]) mu, from the unclamped q(gamma|x)."""
        return (1 - self.gamma_mean_from_features(features)) * self.slab(features)[0]

    def gamma_mean_from_features(self, features):
        """Mean of the unclamped q(gamma|x): each dimension's posterior spike probability."""
        return self.q_gamma(features, clamp=False).mean

    def gamma_mean(self, batch):
        return self.gamma_mean_from_features(self.encoder(batch))


class SimpleClassifier(nn.Module):
    """The paper's "simple classifier": the GRU encoder trained end to end with the head."""

    def __init__(self, vocab_size, embedding_dim, hidden_dim, n_classes, head_dim=32, encoder="gru", bert=""):
        super().__init__()
        self.embedding = nn.Embedding(vocab_size, embedding_dim, padding_idx=PAD)
        self.encoder = build_encoder(encoder, self.embedding, hidden_dim, bert)
        self.head = ClassifierHead(self.encoder.output_dim, n_classes, head_dim)

    def forward(self, batch):
        return self.head(self.encoder(batch))


class ClassifierHead(nn.Sequential):
    """Two dense layers of `hidden` units with LeakyReLU, then the class logits (§4.2)."""

    def __init__(self, in_dim, n_classes, hidden=32):
        super().__init__(
            nn.Linear(in_dim, hidden), nn.LeakyReLU(), nn.Linear(hidden, hidden), nn.LeakyReLU(),
            nn.Linear(hidden, n_classes),
        )


@dataclass(frozen=True)
class ModelSpec:
    """What callers need to know of a model without building it."""
    cls: type
    config: type
    section: str          # its params.yaml section
    encoder: str = "gru"  # gru | bert (BERT models read the sentences' text, at bert_lr)

    @property
    def has_gamma(self) -> bool:
        """Whether the model has a posterior over gamma (gamma maps, gamma-based activity)."""
        return hasattr(self.cls, "q_gamma")


# The paper's model, HSVAE, reads the `model` section (hsvae and b_hsvae alike); the
# compared models keep a section of their own.
VAE_MODELS = {
    "vae": ModelSpec(VAE, VAEConfig, "vae"),
    "vae_l1": ModelSpec(PenalisedVAE, PenalisedVAEConfig, "vae_l1"),
    "vae_l2": ModelSpec(L2VAE, PenalisedVAEConfig, "vae_l2"),
    "mat_vae": ModelSpec(MatVAE, MatVAEConfig, "mat_vae"),
    "hsvae": ModelSpec(HSVAE, HSVAEConfig, "model"),
    "b_vae": ModelSpec(VAE, VAEConfig, "b_vae", encoder="bert"),
    "b_hsvae": ModelSpec(HSVAE, HSVAEConfig, "model", encoder="bert"),
}


def build_vae(name: str, vocab_size: int, arch: dict, hparams: dict, ce_chunk: int = 0) -> VAE:
    """A VAE from its name, the `arch` params section and its own params section."""
    spec = VAE_MODELS[name]
    return spec.cls(vocab_size, arch["embedding_dim"], arch["hidden_dim"], arch["latent_dim"],
                    from_section(spec.config, hparams), encoder=spec.encoder, bert=arch.get("bert", ""),
                    ce_chunk=ce_chunk)
