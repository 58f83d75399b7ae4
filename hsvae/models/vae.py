"""The Gaussian VAE (the paper's dense baseline) and its L1/L2-penalised variants (§4.1.2).

Every VAE returns its ELBO terms from `loss_terms(batch)` — the reconstruction, each KL or
penalty and the weighted total (all batch means), built from `latent_terms(features)` (the
sample of z and every term that needs no decoder) and `weighted_total(terms)` — and offers `encode(batch, n_samples)` ->
(K, B, D) posterior samples and `posterior_mean(batch)` -> (B, D).
"""
import torch
import torch.nn.functional as F
from torch import nn
from pydantic import Field
from torch.distributions import Normal, kl_divergence

from hsvae.core.config import Real, Section
from hsvae.data.vocabulary import PAD
from hsvae.models.keras_init import keras_init_
from hsvae.models.nets import BertEncoder, GRUDecoder, build_encoder


class VAEConfig(Section):
    """The dense VAE (vae, b_vae)."""
    psi: Real = Field(0.1, ge=0, description="KL weight (< 1 against KL collapse, §4.1.2)")


class VAE(nn.Module):
    """Gaussian posterior, N(0, I) prior, KL weighted by psi (< 1 against KL collapse)."""

    # True for a model with a posterior over gamma (gamma_mean_from_features): gamma maps and
    # gamma-based activity
    has_gamma = False

    def __init__(self, vocab_size, embedding_dim, hidden_dim, latent_dim, config=VAEConfig(), encoder="gru", bert="",
                 ce_chunk=0):
        super().__init__()
        self.config = config
        self.embedding = nn.Embedding(vocab_size, embedding_dim, padding_idx=PAD)
        self.encoder = build_encoder(encoder, self.embedding, hidden_dim, bert)
        self.decoder = GRUDecoder(self.embedding, hidden_dim, latent_dim, ce_chunk)
        self.latent_dim = latent_dim
        self._build_heads(self.encoder.output_dim, latent_dim)
        # The authors' starting weights; a pretrained BERT keeps its own.
        keras_init_(self, skip=self.encoder if isinstance(self.encoder, BertEncoder) else None)

    def prior_z(self, like: torch.Tensor) -> Normal:
        """p(z) for a batch of latents like `like` (B, D): every model's prior takes the batch's
        tensor; the dense models' is the same for each sentence, HSVAE's is p(z | gamma = like)."""
        return Normal(torch.zeros(self.latent_dim, device=like.device), 1.0, validate_args=False)

    def _build_heads(self, feature_dim, latent_dim):
        self.loc_head = nn.Linear(feature_dim, latent_dim)
        self.scale_head = nn.Linear(feature_dim, latent_dim)

    def slab(self, features):
        # Heads run in fp32 under autocast: the distributions' math needs the precision.
        features = features.float()
        with torch.autocast(features.device.type, enabled=False):
            return self.loc_head(features), F.softplus(self.scale_head(features)) + 1e-5

    def posterior(self, features) -> Normal:
        return Normal(*self.slab(features), validate_args=False)

    def features(self, batch, features=None):
        """The encoder's features of `batch`, unless the caller already has them."""
        return self.encoder(batch) if features is None else features

    def loss_terms(self, batch, features=None):
        """The loss terms of one posterior sample, batch means, with the weighted "total"."""
        z, terms = self.latent_terms(self.features(batch, features))
        terms = {"rec": self.decoder.reconstruction_loss(z, batch), **terms}
        return {**terms, "total": self.weighted_total(terms)}

    def latent_terms(self, features):
        """A sample of z for each row of `features` and the loss terms that need no decoder."""
        q_z = self.posterior(features)
        z = q_z.rsample()
        return z, {"kl_z": kl_divergence(q_z, self.prior_z(z)).sum(-1).mean()}

    def weighted_total(self, terms):
        return terms["rec"] + self.config.psi * terms["kl_z"]

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


class PenalisedVAEConfig(Section):
    """The dense VAE with an L1 or L2 penalty (vae_l1, vae_l2)."""
    psi: Real = Field(0.1, ge=0, description="KL weight")
    weight: Real = Field(0.01, ge=0, description="L1/L2 penalty on the posterior's μ and σ")


class PenalisedVAE(VAE):
    """VAE with an L1 or L2 penalty (`norm`), weighted by `weight`, on the activations mu and sigma of q(z|x)."""

    norm = "l1"

    def latent_terms(self, features):
        q_z = self.posterior(features)
        z = q_z.rsample()
        activations = torch.cat([q_z.loc, q_z.scale], -1)
        penalty = (activations.abs() if self.norm == "l1" else activations**2).sum(-1).mean()
        return z, {"kl_z": kl_divergence(q_z, self.prior_z(z)).sum(-1).mean(), self.norm: penalty}

    def weighted_total(self, terms):
        return terms["rec"] + self.config.psi * terms["kl_z"] + self.config.weight * terms[self.norm]


class L2VAE(PenalisedVAE):
    norm = "l2"
