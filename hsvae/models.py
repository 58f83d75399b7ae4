"""The paper's models (§3, §4.1.2). Each is its ELBO: `loss_terms(batch)` returns the
reconstruction, each KL or penalty, and the weighted total (all batch means).

Every VAE also offers `encode(batch, n_samples)` -> (K, B, D) posterior samples and
`posterior_mean(batch)` -> (B, D); HSVAE adds `gamma_mean(batch)` -> (B, D).
"""
import torch
import torch.nn.functional as F
from torch import nn
from torch.distributions import Beta, Normal, kl_divergence

from hsvae.batching import PAD
from hsvae.distributions import SpikeAndSlab, clamp_straight_through, kl_beta, monte_carlo_kl
from hsvae.mmd import mmd
from hsvae.nets import GRUDecoder, build_encoder


class VAE(nn.Module):
    """Gaussian posterior, N(0, I) prior, KL weighted by psi (< 1 against KL collapse)."""

    def __init__(self, vocab_size, embedding_dim, hidden_dim, latent_dim, encoder="gru", bert="", psi=1.0):
        super().__init__()
        self.embedding = nn.Embedding(vocab_size, embedding_dim, padding_idx=PAD)
        self.encoder = build_encoder(encoder, self.embedding, hidden_dim, bert)
        self.decoder = GRUDecoder(self.embedding, hidden_dim, latent_dim)
        self.latent_dim = latent_dim
        self.psi = psi
        self._build_heads(self.encoder.output_dim, latent_dim)

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
        kl_z = kl_divergence(q_z, Normal(0.0, 1.0)).sum(-1).mean()
        return q_z, rec, kl_z

    def loss_terms(self, batch, features=None):
        _, rec, kl_z = self.gaussian_terms(batch, features)
        return {"rec": rec, "kl_z": kl_z, "total": rec + self.psi * kl_z}

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


class PenalisedVAE(VAE):
    """VAE with an L1 or L2 penalty, weighted by `weight`, on the activations mu and sigma of q(z|x)."""

    def __init__(self, *args, norm="l1", weight=0.01, **kwargs):
        super().__init__(*args, **kwargs)
        self.norm, self.weight = norm, weight

    def loss_terms(self, batch, features=None):
        q_z, rec, kl_z = self.gaussian_terms(batch, features)
        activations = torch.cat([q_z.loc, q_z.scale], -1)
        penalty = (activations.abs() if self.norm == "l1" else activations**2).sum(-1).mean()
        return {"rec": rec, "kl_z": kl_z, self.norm: penalty, "total": rec + self.psi * kl_z + self.weight * penalty}


class MatVAE(VAE):
    """Mathieu et al. (2019): Gaussian posterior, spike-and-slab prior with fixed gamma;
    objective E[log p(x|z)] - psi KL(q(z|x) || p(z)) - lambda MMD(q(z), p(z))."""

    def __init__(self, *args, lam=4.0, gamma=0.8, spike_scale=0.05, **kwargs):
        super().__init__(*args, **kwargs)
        self.lam, self.gamma, self.spike_scale = lam, gamma, spike_scale

    def prior(self, device):
        zeros = torch.zeros(self.latent_dim, device=device)
        return SpikeAndSlab(zeros + self.gamma, zeros, zeros + 1.0, self.spike_scale)

    def loss_terms(self, batch, features=None):
        q_z = self.posterior(self.features(batch, features))
        z = q_z.rsample()
        prior = self.prior(z.device)
        rec = self.decoder.reconstruction_loss(z, batch).mean()
        kl_z = monte_carlo_kl(q_z, prior, z).mean()  # no closed form against a mixture
        divergence = mmd(z, prior.sample((z.shape[0],)))
        return {"rec": rec, "kl_z": kl_z, "mmd": divergence, "total": rec + self.psi * kl_z + self.lam * divergence}


class HSVAE(VAE):
    """Hierarchical sparse VAE (§3): gamma ~ Beta(a(x), b(x)) is each dimension's spike
    probability, z | gamma ~ spike-and-slab. Prior Beta(alpha, beta), p(z|gamma) with slab N(0, 1).
    Loss = rec + psi KL_z (single-sample, log-sum-exp mixture densities) + lambda KL_gamma (closed form)."""

    def __init__(self, *args, alpha=4.0, beta=1.0, lam=0.01, temperature=0.5, spike_scale=0.05,
                 beta_clamp=(0.5, 100.0), **kwargs):
        super().__init__(*args, **kwargs)
        self.alpha, self.beta, self.lam = alpha, beta, lam
        self.temperature, self.spike_scale, self.beta_clamp = temperature, spike_scale, tuple(beta_clamp)

    def _build_heads(self, feature_dim, latent_dim):
        super()._build_heads(feature_dim, latent_dim)
        self.a_head = nn.Linear(feature_dim, latent_dim)
        self.b_head = nn.Linear(feature_dim, latent_dim)

    def posterior_parts(self, features):
        """q(gamma|x) as a Beta and the slab's (loc, scale)."""
        features = features.float()
        loc, scale = self.slab(features)
        with torch.autocast(features.device.type, enabled=False):
            a = clamp_straight_through(F.softplus(self.a_head(features)) + 1e-5, *self.beta_clamp)
            b = clamp_straight_through(F.softplus(self.b_head(features)) + 1e-5, *self.beta_clamp)
        return Beta(a, b), loc, scale

    def q_z(self, gamma, loc, scale):
        return SpikeAndSlab(gamma, loc, scale, self.spike_scale, self.temperature)

    def loss_terms(self, batch, features=None):
        q_gamma, loc, scale = self.posterior_parts(self.features(batch, features))
        gamma = q_gamma.rsample()
        q_z = self.q_z(gamma, loc, scale)
        z = q_z.rsample()
        p_z = SpikeAndSlab(gamma, torch.zeros_like(loc), torch.ones_like(scale), self.spike_scale)
        rec = self.decoder.reconstruction_loss(z, batch).mean()
        kl_z = monte_carlo_kl(q_z, p_z, z).mean()
        prior_a, prior_b = torch.full_like(loc, self.alpha), torch.full_like(loc, self.beta)
        kl_gamma = kl_beta(q_gamma.concentration1, q_gamma.concentration0, prior_a, prior_b).sum(-1).mean()
        return {"rec": rec, "kl_z": kl_z, "kl_gamma": kl_gamma,
                "total": rec + self.psi * kl_z + self.lam * kl_gamma}

    def sample_from_features(self, features, n_samples=1):
        """K samples of z, each with its own gamma sample."""
        q_gamma, loc, scale = self.posterior_parts(features)
        return self.q_z(q_gamma.rsample((n_samples,)), loc, scale).rsample()

    def mean_from_features(self, features):
        q_gamma, loc, _ = self.posterior_parts(features)
        return (1 - q_gamma.mean) * loc

    def gamma_mean(self, batch):
        """Mean of q(gamma|x): each dimension's posterior spike probability."""
        return self.posterior_parts(self.encoder(batch))[0].mean


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


# name -> (class, encoder kind); the model's params section gives its keyword arguments
VAE_MODELS = {
    "vae": (VAE, "gru"),
    "vae_l1": (PenalisedVAE, "gru"),
    "vae_l2": (PenalisedVAE, "gru"),
    "mat_vae": (MatVAE, "gru"),
    "hsvae": (HSVAE, "gru"),
    "b_vae": (VAE, "bert"),
    "b_hsvae": (HSVAE, "bert"),
}

# params.yaml names -> constructor names (`lambda` is a Python keyword)
_RENAMES = {"lambda": "lam"}


def build_vae(name: str, vocab_size: int, arch: dict, hparams: dict) -> VAE:
    """A VAE from its name, the `arch` params section and its own params section."""
    cls, encoder = VAE_MODELS[name]
    kwargs = {_RENAMES.get(k, k): v for k, v in hparams.items()}
    if name in ("vae_l1", "vae_l2"):
        kwargs["norm"] = name[-2:]
    return cls(
        vocab_size, arch["embedding_dim"], arch["hidden_dim"], arch["latent_dim"],
        encoder=encoder, bert=arch.get("bert", ""), **kwargs,
    )
