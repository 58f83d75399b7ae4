"""A new model is one class (its config dataclass beside it) and one registry entry: a VAE with
a Laplace prior on z, its KL registered with torch.distributions, runs through the real
pretrain -> classify -> analyze stage scripts on the test corpus without touching any other module."""
import importlib
import json
import math
import sys
from dataclasses import dataclass

import pytest
import torch
import yaml
from torch.distributions import Laplace, Normal, kl_divergence, register_kl

from hsvae.config import param
from hsvae.data.splits import Split
from hsvae.models.registry import VAE_MODELS, ModelSpec
from hsvae.models.store import load_vae
from hsvae.models.vae import VAE
from tests.pipeline_utils import tiny_repo


class StandardLaplace(Laplace):
    """Laplace(0, 1) in every dimension: a sparsity-inducing prior on z."""


@register_kl(Normal, StandardLaplace)
def kl_normal_laplace(q, p):
    """KL(N(mu, s^2) || Laplace(m, b)) = log(2b) + E|z - m| / b - log(s sqrt(2 pi e)), with
    E|z - m| = s sqrt(2/pi) exp(-d^2 / 2s^2) + d erf(d / (s sqrt 2)), d = mu - m."""
    d, s, b = q.loc - p.loc, q.scale, p.scale
    mean_abs = s * math.sqrt(2 / math.pi) * torch.exp(-(d**2) / (2 * s**2)) + d * torch.erf(d / (s * math.sqrt(2)))
    return torch.log(2 * b) + mean_abs / b - torch.log(s) - 0.5 * math.log(2 * math.pi * math.e)


@dataclass(frozen=True)
class LaplaceVAEConfig:
    psi: float = param(0.1, ge=0, doc="KL weight")


class LaplaceVAE(VAE):
    def prior_z(self, device) -> StandardLaplace:
        zeros = torch.zeros(self.latent_dim, device=device)
        return StandardLaplace(zeros, zeros + 1.0)


def test_the_registered_kl_is_the_monte_carlo_kl():
    torch.manual_seed(0)
    q = Normal(torch.tensor([0.0, 1.5, -0.7], dtype=torch.float64), torch.tensor([1.0, 0.3, 2.0], dtype=torch.float64))
    p = StandardLaplace(torch.zeros(3, dtype=torch.float64), torch.ones(3, dtype=torch.float64))
    z = q.sample((400_000,))
    monte_carlo = (q.log_prob(z) - p.log_prob(z)).mean(0)
    assert torch.allclose(kl_divergence(q, p), monte_carlo, atol=5e-3)


def test_a_registered_model_runs_through_pretrain_classify_and_analyze(tmp_path, monkeypatch):
    monkeypatch.setitem(VAE_MODELS, "laplace_vae", ModelSpec(LaplaceVAE, LaplaceVAEConfig, "laplace_vae"))
    repo = tiny_repo(tmp_path)
    params = yaml.safe_load((repo / "params.yaml").read_text())
    params.update(models=["laplace_vae"], baselines=[], laplace_vae={"psi": 0.1})
    params["train"]["epochs"] = 8
    (repo / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    monkeypatch.chdir(repo)
    for stage, args in [("download", []), ("preprocess", []), ("pretrain", ["laplace_vae"]),
                        ("classify", ["laplace_vae"]), ("analyze", [])]:
        monkeypatch.setattr(sys, "argv", [stage, *args])
        importlib.import_module(f"stages.{stage}").main()

    model, config = load_vae("models/laplace_vae.pt", "cpu")
    assert isinstance(model, LaplaceVAE) and config["hparams"] == {"psi": 0.1}
    # the KL term the model trained on is the registered Normal-Laplace one
    test = json.loads((repo / "reports/pretrain/laplace_vae/test.json").read_text())
    batch = Split("data/processed", "test").batch(list(range(8)))
    with torch.no_grad():
        q = model.posterior(model.encoder(batch))
        assert float(model.loss_terms(batch)["kl_z"]) == pytest.approx(
            float(kl_normal_laplace(q, model.prior_z("cpu")).sum(-1).mean()), rel=1e-5)
    assert test["kl_z"] > 0 and 0 <= test["ah_sample"] <= 1
    summary = json.loads((repo / "reports/summary.json").read_text())
    assert list(summary) == ["laplace_vae"]
    assert summary["laplace_vae"]["accuracy"] > 0.5, summary  # 3 classes: chance 1/3
    assert "| laplace_vae |" in (repo / "reports/README.md").read_text()
