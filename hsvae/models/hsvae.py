"""HSVAE (§3), the paper's model: a Beta posterior over each dimension's spike probability gamma
and a spike-and-slab posterior over z given gamma. HSVAE adds `gamma_mean(batch)` -> (B, D)."""
import torch
import torch.nn.functional as F
from torch import nn
from pydantic import Field
from torch.distributions import Beta, kl_divergence

from hsvae.core.config import Real, Section, interval
from hsvae.models.distributions import SpikeAndSlab, clamp_straight_through, monte_carlo_kl
from hsvae.models.vae import VAE


class HSVAEConfig(Section):
    """The paper's model (hsvae and b_hsvae): `dvc exp run -S model.alpha=8`."""
    alpha: Real = Field(4.0, gt=0, description="Beta prior on γ (the spike probability); α > β → sparser codes")
    beta: Real = Field(1.0, gt=0, description="Beta prior on γ")
    psi: Real = Field(0.01, ge=0, description="weight of KL_z")
    lam: Real = Field(0.01, ge=0, alias="lambda", description="weight of KL_γ")
    temperature: Real = Field(0.5, gt=0, description="Binary Concrete temperature of the spike/slab switch")
    spike_scale: Real = Field(0.05, gt=0, description="standard deviation of the spike N(0, s)")
    beta_clamp: interval(1e-3, 1e4) = Field(
        (0.5, 100.0), description="Beta posterior parameters clamped here in training only (gradient passed "
        "through); γ maps, active dimensions and codes read the unclamped posterior")


class HSVAE(VAE):
    """Hierarchical sparse VAE (§3): gamma ~ Beta(a(x), b(x)) is each dimension's spike
    probability, z | gamma ~ spike-and-slab. Prior Beta(alpha, beta), p(z|gamma) with slab N(0, 1).
    Loss = rec + psi KL_z (single-sample, log-sum-exp mixture densities) + lambda KL_gamma (closed form)."""

    has_gamma = True

    def prior_gamma(self, like: torch.Tensor) -> Beta:
        return Beta(torch.full_like(like, self.config.alpha), torch.full_like(like, self.config.beta),
                    validate_args=False)

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
        return Beta(a, b, validate_args=False)

    def posterior_parts(self, features):
        """q(gamma|x) (clamped, as in training) and the slab's (loc, scale)."""
        features = features.float()
        return self.q_gamma(features), *self.slab(features)

    def q_z(self, gamma, loc, scale):
        return SpikeAndSlab(gamma, loc, scale, self.config.spike_scale, self.config.temperature)

    def latent_terms(self, features):
        q_gamma, loc, scale = self.posterior_parts(features)
        gamma = q_gamma.rsample()
        q_z = self.q_z(gamma, loc, scale)
        z = q_z.rsample()
        kl_z = monte_carlo_kl(q_z, self.prior_z(gamma), z).mean()
        kl_gamma = kl_divergence(q_gamma, self.prior_gamma(loc)).sum(-1).mean()
        return z, {"kl_z": kl_z, "kl_gamma": kl_gamma}

    def weighted_total(self, terms):
        return terms["rec"] + self.config.psi * terms["kl_z"] + self.config.lam * terms["kl_gamma"]

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
