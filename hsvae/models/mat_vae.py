"""MAT-VAE (Mathieu et al. 2019): the sparse baseline with a fixed spike-and-slab prior and an MMD term."""
from dataclasses import dataclass

import torch

from hsvae.core.config import param
from hsvae.models.distributions import SpikeAndSlab, monte_carlo_kl
from hsvae.models.mmd import mmd
from hsvae.models.vae import VAE


@dataclass(frozen=True)
class MatVAEConfig:
    psi: float = param(0.01, ge=0, doc="KL weight; < 1 as for every model (§4.1.2)")
    lam: float = param(0.01, ge=0, key="lambda", doc="MMD weight")
    gamma: float = param(0.8, ge=0, le=1, doc="prior spike probability")
    spike_scale: float = param(0.05, gt=0, doc="standard deviation of the spike")


class MatVAE(VAE):
    """Mathieu et al. (2019): Gaussian posterior, spike-and-slab prior with fixed gamma;
    objective E[log p(x|z)] - psi KL(q(z|x) || p(z)) - lambda MMD(q(z), p(z))."""

    def prior_z(self, device) -> SpikeAndSlab:
        zeros = torch.zeros(self.latent_dim, device=device)
        return SpikeAndSlab(zeros + self.config.gamma, zeros, zeros + 1.0, self.config.spike_scale)

    def latent_terms(self, features):
        q_z = self.posterior(features)
        z = q_z.rsample()
        prior = self.prior_z(z.device)
        kl_z = monte_carlo_kl(q_z, prior, z).mean()  # no closed form against a mixture
        return z, {"kl_z": kl_z, "mmd": mmd(z, prior.sample((z.shape[0],)))}

    def weighted_total(self, terms):
        return terms["rec"] + self.config.psi * terms["kl_z"] + self.config.lam * terms["mmd"]
