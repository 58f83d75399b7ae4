"""MAT-VAE (Mathieu et al. 2019): the sparse baseline with a fixed spike-and-slab prior and an MMD term."""
import torch
from pydantic import Field

from hsvae.core.config import Real, Section
from hsvae.models.distributions import SpikeAndSlab, monte_carlo_kl
from hsvae.models.mmd import mmd
from hsvae.models.vae import VAE


class MatVAEConfig(Section):
    """MAT-VAE (the authors' README example, ψ = 1 and λ = 4, collapses the posterior here)."""
    psi: Real = Field(0.01, ge=0, description="KL weight; < 1 as for every model (§4.1.2)")
    lam: Real = Field(0.01, ge=0, alias="lambda", description="MMD weight")
    gamma: Real = Field(0.8, ge=0, le=1, description="prior spike probability")
    spike_scale: Real = Field(0.05, gt=0, description="standard deviation of the spike N(0, s)")


class MatVAE(VAE):
    """Mathieu et al. (2019): Gaussian posterior, spike-and-slab prior with fixed gamma;
    objective E[log p(x|z)] - psi KL(q(z|x) || p(z)) - lambda MMD(q(z), p(z))."""

    def prior_z(self, like: torch.Tensor) -> SpikeAndSlab:
        zeros = torch.zeros(self.latent_dim, device=like.device)
        return SpikeAndSlab(zeros + self.config.gamma, zeros, zeros + 1.0, self.config.spike_scale)

    def latent_terms(self, features):
        q_z = self.posterior(features)
        z = q_z.rsample()
        prior = self.prior_z(z)
        kl_z = monte_carlo_kl(q_z, prior, z).mean()  # no closed form against a mixture
        return z, {"kl_z": kl_z, "mmd": mmd(z, prior.sample((z.shape[0],)))}

    def weighted_total(self, terms):
        return terms["rec"] + self.config.psi * terms["kl_z"] + self.config.lam * terms["mmd"]
