"""A new model is one class (its config section beside it) and one registry entry; `python -m
hsvae.pipeline.conf` writes its conf section: a VAE with a Laplace prior on z, its KL
registered with torch.distributions, runs under `dvc exp run` on the test corpus without
touching any other module or dvc.yaml."""
import json
import sys
import types

import pytest
import torch
import yaml
from torch.distributions import Normal, kl_divergence

from hsvae.data.splits import Split
from hsvae.models.registry import VAE_MODELS, ModelSpec
from hsvae.models.store import load_vae
from tests.pipeline_utils import run, tiny_repo


# What a user writes: the model's module (class, config, the KL of its prior), run here and
# copied into the test repository
MODULE = '''"""A VAE with a Laplace(0, 1) prior on z."""
import math

import torch
from pydantic import Field
from torch.distributions import Laplace, Normal, register_kl

from hsvae.core.config import Real, Section
from hsvae.models.vae import VAE


class StandardLaplace(Laplace):
    """Laplace(0, 1) in every dimension: a sparsity-inducing prior on z."""


@register_kl(Normal, StandardLaplace)
def kl_normal_laplace(q, p):
    """KL(N(mu, s^2) || Laplace(m, b)) = log(2b) + E|z - m| / b - log(s sqrt(2 pi e)), with
    E|z - m| = s sqrt(2/pi) exp(-d^2 / 2s^2) + d erf(d / (s sqrt 2)), d = mu - m."""
    d, s, b = q.loc - p.loc, q.scale, p.scale
    mean_abs = s * math.sqrt(2 / math.pi) * torch.exp(-(d**2) / (2 * s**2)) + d * torch.erf(d / (s * math.sqrt(2)))
    return torch.log(2 * b) + mean_abs / b - torch.log(s) - 0.5 * math.log(2 * math.pi * math.e)


class LaplaceVAEConfig(Section):
    """A VAE with a Laplace(0, 1) prior on z."""
    psi: Real = Field(0.1, ge=0, description="KL weight")


class LaplaceVAE(VAE):
    def prior_z(self, like) -> StandardLaplace:
        zeros = torch.zeros(self.latent_dim, device=like.device)
        return StandardLaplace(zeros, zeros + 1.0, validate_args=False)
'''


laplace_vae = types.ModuleType("laplace_vae")
exec(MODULE, laplace_vae.__dict__)
StandardLaplace, LaplaceVAE = laplace_vae.StandardLaplace, laplace_vae.LaplaceVAE


def test_the_registered_kl_is_the_monte_carlo_kl():
    torch.manual_seed(0)
    q = Normal(torch.tensor([0.0, 1.5, -0.7], dtype=torch.float64), torch.tensor([1.0, 0.3, 2.0], dtype=torch.float64))
    p = StandardLaplace(torch.zeros(3, dtype=torch.float64), torch.ones(3, dtype=torch.float64))
    z = q.sample((400_000,))
    monte_carlo = (q.log_prob(z) - p.log_prob(z)).mean(0)
    assert torch.allclose(kl_divergence(q, p), monte_carlo, atol=5e-3)


def ran_stages(out: str) -> set:
    return {line.split("'")[1] for line in out.splitlines() if line.startswith("Running stage")}


@pytest.mark.slow(seconds=31)
def test_a_model_added_in_one_place_runs_under_dvc_exp_run(tmp_path, monkeypatch):
    """A new model: its module and one registry entry, then `python -m hsvae.pipeline.conf`
    writes its conf section — no dvc.yaml edit. `dvc exp run` trains it, `-S laplace_vae.psi=0.2`
    re-runs exactly its stages, and `dvc status` is clean after."""
    repo = tiny_repo(tmp_path, {"models": ["laplace_vae"], "baselines": [], "train": {"epochs": 8}})
    (repo / "hsvae/models/laplace_vae.py").write_text(MODULE)
    registry = (repo / "hsvae/models/registry.py").read_text()
    registry = registry.replace("from hsvae.models.mat_vae import", "from hsvae.models.laplace_vae import LaplaceVAE, "
                                "LaplaceVAEConfig\nfrom hsvae.models.mat_vae import")
    registry = registry.replace("VAE_MODELS = {", "VAE_MODELS = {\n    \"laplace_vae\": ModelSpec(LaplaceVAE, "
                                "LaplaceVAEConfig, \"laplace_vae\"),")
    (repo / "hsvae/models/registry.py").write_text(registry)
    tiny = yaml.safe_load((repo / "conf/config.yaml").read_text())  # the test's sizes, kept over the rewrite
    run([sys.executable, "-m", "hsvae.pipeline.conf"], repo)
    written = yaml.safe_load((repo / "conf/config.yaml").read_text())
    assert written["laplace_vae"] == {"psi": 0.1}
    (repo / "conf/config.yaml").write_text(yaml.safe_dump({**tiny, "laplace_vae": written["laplace_vae"]},
                                                          sort_keys=False))
    run(["git", "add", "-A"], repo)
    run(["git", "-c", "user.email=t@t", "-c", "user.name=t", "commit", "-qm", "a Laplace VAE"], repo)
    first = ran_stages(run(["dvc", "exp", "run"], repo).stdout)
    assert first == {"configure", "download", "preprocess", "pretrain@laplace_vae", "classify@laplace_vae",
                     "explore@laplace_vae", "analyze"}
    before = (repo / "models/laplace_vae.pt").read_bytes()
    again = ran_stages(run(["dvc", "exp", "run", "-S", "laplace_vae.psi=0.2"], repo).stdout)
    assert again == {"configure", "pretrain@laplace_vae", "classify@laplace_vae", "explore@laplace_vae", "analyze"}
    assert (repo / "models/laplace_vae.pt").read_bytes() != before
    assert "Data and pipelines are up to date" in run(["dvc", "status"], repo).stdout

    monkeypatch.setitem(VAE_MODELS, "laplace_vae", ModelSpec(LaplaceVAE, laplace_vae.LaplaceVAEConfig, "laplace_vae"))
    monkeypatch.chdir(repo)
    model, config = load_vae("models/laplace_vae.pt", "cpu")
    assert isinstance(model, LaplaceVAE) and config["hparams"] == {"psi": 0.2}
    # the KL term the model trained on is the registered Normal-Laplace one
    test = json.loads((repo / "reports/pretrain/laplace_vae/test.json").read_text())
    batch = Split("data/processed", "test").batch(list(range(8)))
    with torch.no_grad():
        q = model.posterior(model.encoder(batch))
        assert float(model.loss_terms(batch)["kl_z"]) == pytest.approx(
            float(laplace_vae.kl_normal_laplace(q, model.prior_z(q.loc)).sum(-1).mean()), rel=1e-5)
    assert test["kl_z"] > 0 and 0 <= test["ah_sample"] <= 1
    summary = json.loads((repo / "reports/summary.json").read_text())
    assert list(summary) == ["laplace_vae"]
    assert summary["laplace_vae"]["accuracy"] > 0.5, summary  # 3 classes: chance 1/3
    assert "| laplace_vae |" in (repo / "reports/README.md").read_text()
