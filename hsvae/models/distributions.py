"""Distributions of HSVAE (paper §3, Appendices C-D), in the style of torch.distributions.

gamma is the probability of the SPIKE: gamma -> 1 switches a dimension off (z_i ~ 0).
"""
import torch
from torch.distributions import Distribution, Normal, constraints

# Keeps log(gamma) and log(1 - gamma) finite while leaving the density normalised.
GAMMA_EPS = 1e-6


class _StraightThrough(torch.autograd.Function):
    """forward: fn(x) exactly; backward: the identity (x's gradient passes unchanged)."""

    @staticmethod
    def forward(ctx, x, fn):
        return fn(x)

    @staticmethod
    def backward(ctx, grad):
        return grad, None


def clamp_straight_through(x: torch.Tensor, low: float, high: float) -> torch.Tensor:
    """Clamp in the forward pass, identity in the backward pass (the authors' NaN fix)."""
    return _StraightThrough.apply(x, lambda v: v.clamp(low, high))


def hard_binary_concrete(probs: torch.Tensor, temperature: float) -> torch.Tensor:
    """A Bernoulli(probs) sample that is exactly 0 or 1 forward, with the gradient of the
    Binary Concrete relaxation (Maddison et al. 2016) at `temperature` (straight-through)."""
    probs = probs.clamp(GAMMA_EPS, 1 - GAMMA_EPS)
    u = torch.rand_like(probs).clamp(GAMMA_EPS, 1 - GAMMA_EPS)
    logistic_noise = torch.log(u) - torch.log1p(-u)
    soft = torch.sigmoid((torch.logit(probs) + logistic_noise) / temperature)
    return _StraightThrough.apply(soft, lambda v: (v > 0.5).to(v.dtype))


class SpikeAndSlab(Distribution):
    """Factorised mixture gamma * N(0, spike_scale) + (1 - gamma) * N(loc, scale).

    With loc = 0, scale = 1 this is the prior p(z|gamma); with a learnable slab it is the
    posterior q(z|x, gamma). `rsample` picks spike or slab with a hard Binary Concrete switch,
    so gradients reach gamma, loc and scale.
    """

    arg_constraints = {
        "gamma": constraints.unit_interval,
        "loc": constraints.real,
        "scale": constraints.positive,
    }
    support = constraints.real
    has_rsample = True

    def __init__(self, gamma, loc, scale, spike_scale=0.05, temperature=0.5, validate_args=False):
        self.gamma, self.loc, self.scale = torch.broadcast_tensors(
            torch.as_tensor(gamma), torch.as_tensor(loc), torch.as_tensor(scale)
        )
        self.spike_scale = spike_scale
        self.temperature = temperature
        super().__init__(self.gamma.shape, validate_args=validate_args)

    @property
    def mean(self):
        return (1 - self.gamma) * self.loc

    @property
    def variance(self):
        second_moment = self.gamma * self.spike_scale**2 + (1 - self.gamma) * (self.loc**2 + self.scale**2)
        return second_moment - self.mean**2

    def rsample(self, sample_shape=torch.Size()):
        shape = self._extended_shape(sample_shape)
        spike = hard_binary_concrete(self.gamma.expand(shape), self.temperature)
        eps_spike = torch.randn(shape, dtype=self.loc.dtype, device=self.loc.device)
        eps_slab = torch.randn(shape, dtype=self.loc.dtype, device=self.loc.device)
        return spike * self.spike_scale * eps_spike + (1 - spike) * (self.loc + self.scale * eps_slab)

    def log_prob(self, value):
        gamma = self.gamma.clamp(GAMMA_EPS, 1 - GAMMA_EPS)
        log_spike = Normal(0.0, self.spike_scale, validate_args=False).log_prob(value) + torch.log(gamma)
        log_slab = Normal(self.loc, self.scale, validate_args=False).log_prob(value) + torch.log1p(-gamma)
        return torch.logaddexp(log_spike, log_slab)


def monte_carlo_kl(q: Distribution, p: Distribution, z: torch.Tensor) -> torch.Tensor:
    """Single-sample estimate log q(z) - log p(z), summed over the last (latent) dimension.
    Used where no closed form exists (a mixture on either side)."""
    return (q.log_prob(z) - p.log_prob(z)).sum(-1)

