import math

import pytest
import torch
from torch.distributions import Beta, kl_divergence

from hsvae.models.distributions import (
    SpikeAndSlab,
    clamp_straight_through,
    hard_binary_concrete,
    monte_carlo_kl,
)


def quadrature(f, low=-30.0, high=30.0, n=600_001):
    x = torch.linspace(low, high, n, dtype=torch.float64)
    return torch.trapezoid(f(x), x)


def closed_form_kl_beta(a1, b1, a2, b2):
    """KL(Beta(a1, b1) || Beta(a2, b2)), written out from the Beta density."""
    lbeta = lambda a, b: math.lgamma(a) + math.lgamma(b) - math.lgamma(a + b)  # noqa: E731
    dg = lambda v: float(torch.digamma(torch.tensor(v, dtype=torch.float64)))  # noqa: E731
    return (lbeta(a2, b2) - lbeta(a1, b1) + (a1 - a2) * dg(a1) + (b1 - b2) * dg(b1)
            + (a2 - a1 + b2 - b1) * dg(a1 + b1))


@pytest.mark.parametrize("a1,b1,a2,b2", [(0.5, 0.5, 4.0, 1.0), (3.0, 7.0, 1.0, 1.0), (100.0, 0.6, 0.1, 100.0)])
def test_hsvae_beta_kl_matches_the_closed_form_and_monte_carlo(a1, b1, a2, b2):
    """HSVAE's KL_gamma goes through kl_divergence between its posterior and prior_gamma()."""
    from hsvae.models.hsvae import HSVAE, HSVAEConfig

    model = HSVAE(30, 8, 8, 1, HSVAEConfig(alpha=a2, beta=b2)).double()
    args = [torch.tensor(v, dtype=torch.float64) for v in (a1, b1, a2, b2)]
    ours = kl_divergence(Beta(args[0], args[1]), model.prior_gamma(torch.zeros(1, dtype=torch.float64)))
    assert float(ours) == pytest.approx(closed_form_kl_beta(a1, b1, a2, b2), rel=1e-10)
    torch.manual_seed(0)
    q, p = Beta(args[0], args[1]), Beta(args[2], args[3])
    x = q.sample((400_000,)).clamp(1e-12, 1 - 1e-12)
    estimate = q.log_prob(x) - p.log_prob(x)
    # Monte Carlo: within 5 standard errors of the closed form
    assert abs(float(estimate.mean() - ours)) < 5 * float(estimate.std()) / math.sqrt(len(x)) + 1e-6


@pytest.mark.parametrize("gamma,loc,scale", [(0.8, 0.0, 1.0), (0.3, 1.5, 0.4), (0.01, -2.0, 2.0)])
def test_spike_and_slab_density_integrates_to_one(gamma, loc, scale):
    d = SpikeAndSlab(torch.tensor(gamma, dtype=torch.float64), torch.tensor(loc, dtype=torch.float64),
                     torch.tensor(scale, dtype=torch.float64))
    assert float(quadrature(lambda x: d.log_prob(x).exp())) == pytest.approx(1.0, abs=1e-6)
    mean = quadrature(lambda x: x * d.log_prob(x).exp())
    assert float(mean) == pytest.approx(float(d.mean), abs=1e-6)
    var = quadrature(lambda x: (x - mean) ** 2 * d.log_prob(x).exp())
    assert float(var) == pytest.approx(float(d.variance), rel=1e-5)


@pytest.mark.parametrize("gamma,loc,scale", [(0.3, 1.0, 0.5), (0.7, -0.5, 1.5)])
def test_single_sample_kl_averages_to_quadrature_kl(gamma, loc, scale):
    f64 = lambda v: torch.tensor(v, dtype=torch.float64)  # noqa: E731
    q = SpikeAndSlab(f64(gamma), f64(loc), f64(scale))
    p = SpikeAndSlab(f64(gamma), f64(0.0), f64(1.0))
    exact = quadrature(lambda x: q.log_prob(x).exp() * (q.log_prob(x) - p.log_prob(x)))
    torch.manual_seed(0)
    z = q.rsample((200_000,)).unsqueeze(-1)
    single = monte_carlo_kl(q, p, z)
    stderr = float(single.std()) / math.sqrt(len(single))
    assert abs(float(single.mean() - exact)) < 5 * stderr


def test_hard_binary_concrete_is_binary_with_gradient_and_right_mean():
    torch.manual_seed(0)
    probs = torch.tensor([0.1, 0.5, 0.9], requires_grad=True)
    samples = hard_binary_concrete(probs.expand(100_000, 3), temperature=0.5)
    assert set(samples.detach().unique().tolist()) <= {0.0, 1.0}
    assert torch.allclose(samples.detach().mean(0), probs.detach(), atol=0.01)
    samples.sum().backward()
    assert (probs.grad > 0).all()  # a higher probability gives more ones


def test_spike_and_slab_rsample_mixes_components_and_reaches_gamma():
    torch.manual_seed(0)
    gamma = torch.full((200_000,), 0.7, requires_grad=True)
    d = SpikeAndSlab(gamma, torch.full((200_000,), 3.0), torch.ones(200_000))
    z = d.rsample()
    near_zero = (z.abs() < 0.25).double().mean()
    assert float(near_zero) == pytest.approx(0.7 + 0.3 * 0.0, abs=0.01)  # the slab at 3 rarely reaches |z| < .25
    assert float(z.detach().mean()) == pytest.approx(float(d.mean.detach().mean()), abs=0.02)
    z.sum().backward()
    assert gamma.grad.abs().sum() > 0


def test_clamp_straight_through_clamps_forward_and_passes_gradient():
    x = torch.tensor([0.1, 5.0, 500.0], requires_grad=True)
    y = clamp_straight_through(x, 0.5, 100.0)
    assert y.tolist() == [0.5, 5.0, 100.0]
    y.sum().backward()
    assert x.grad.tolist() == [1.0, 1.0, 1.0]
