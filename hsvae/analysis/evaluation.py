"""Evaluating a trained VAE on a split: encoder features, loss terms, Average Hoyer variants
and q(gamma|x) means. `map_split` is the one loop over a split's length buckets. Results
stay on the device until the split is done: one copy to the host, not one wait per batch."""
import torch

from hsvae.analysis.metrics import average_hoyer
from hsvae.data.batching import bucketed_batches, to_device


@torch.no_grad()
def map_split(split, batch_size, device, fn, width, dtype=torch.float32):
    """fn(batch) -> (B, width) for every sentence of `split`, in the split's order, on the CPU."""
    out = torch.empty(len(split), width, dtype=dtype, device=device)
    for indices in bucketed_batches(split.lengths, batch_size):
        out.index_copy_(0, to_device(torch.from_numpy(indices), device), fn(split.batch(indices).to(device)).to(dtype))
    return out.cpu()


def encoder_features(encoder, split, batch_size, device):
    """The encoder's feature vector of every sentence of `split`."""
    return map_split(split, batch_size, device, encoder, encoder.output_dim)


def codes(model, split, batch_size, device) -> dict:
    """One encoder pass over `split`: `mean`, E[z|x], and for a model with gamma `gamma`, the
    mean of its unclamped q(gamma|x); (N, D) numpy each."""
    dim, has_gamma = model.latent_dim, model.has_gamma

    def both(batch):
        features = model.encoder(batch)
        parts = [model.mean_from_features(features)]
        if has_gamma:
            parts.append(model.gamma_mean_from_features(features))
        return torch.cat(parts, -1)

    out = map_split(split, batch_size, device, both, dim * (2 if has_gamma else 1)).numpy()
    return {"mean": out[:, :dim], **({"gamma": out[:, dim:]} if has_gamma else {})}


def posterior_means(model, split, batch_size, device):
    """E[z|x] for every sentence of `split`, (N, D) numpy."""
    return map_split(split, batch_size, device, model.posterior_mean, model.latent_dim).numpy()


@torch.no_grad()
def evaluate(model, split, batch_size, device, seed=0):
    """Mean loss terms over `split` and Average Hoyer of the codes, named by what is scored:
    `ah_sample` one posterior sample of z per sentence; `ah_mean` the posterior mean E[z|x]
    (HSVAE: the spike-and-slab mean (1 - E[gamma]) mu); HSVAE adds `ah_slab_mean` (the slab
    mean mu) and `ah_gamma_sample_mean` ((1 - gamma~) mu with gamma~ ~ q(gamma|x)), the two
    variants the authors' code prints."""
    torch.manual_seed(seed)
    sums = {}
    has_gamma = model.has_gamma
    scored = {k: [] for k in ("ah_sample", "ah_mean", *(("ah_slab_mean", "ah_gamma_sample_mean") if has_gamma else ()))}
    for indices in bucketed_batches(split.lengths, batch_size):
        batch = split.batch(indices).to(device)
        features = model.encoder(batch)
        for key, value in model.loss_terms(batch, features).items():
            sums[key] = sums.get(key, 0.0) + value.double() * len(indices)
        scored["ah_sample"].append(model.sample_from_features(features)[0])
        scored["ah_mean"].append(model.mean_from_features(features))
        if has_gamma:
            loc = model.slab(features)[0]
            scored["ah_slab_mean"].append(loc)
            scored["ah_gamma_sample_mean"].append((1 - model.q_gamma(features, clamp=False).sample()) * loc)
    totals = torch.stack(list(sums.values())).tolist()
    metrics = {key: value / len(split) for key, value in zip(sums, totals)}
    for key, rows in scored.items():  # Average Hoyer normalises over all rows: order does not matter
        metrics[key] = average_hoyer(torch.cat([r.float() for r in rows]).cpu())
    return metrics


def test_outputs(model, split, batch_size, device, seed=0):
    """What the pretrain stage reports of a trained VAE on the test split: its metrics
    (`evaluate`) and its codes, the posterior means and, where the model has gamma, the means
    of q(gamma|x), which the gamma heat maps read."""
    return evaluate(model, split, batch_size, device, seed), codes(model, split, batch_size, device)
