"""Pretraining a VAE on the corpus (paper §4.2) and evaluating it: loss terms and Average
Hoyer on posterior samples and means."""
import hashlib
import json

import torch

from hsvae.batching import bucketed_batches
from hsvae.metrics import average_hoyer
from hsvae.models import build_vae
from hsvae.store import save
from hsvae.train import fit


@torch.no_grad()
def encoder_features(encoder, split, batch_size, device, with_text=False):
    """The encoder's feature vector of every sentence of `split`, in the split's order."""
    out = torch.empty(len(split), encoder.output_dim)
    for indices in bucketed_batches(split.lengths, batch_size):
        out[indices] = encoder(split.batch(indices, with_text).to(device)).float().cpu()
    return out


@torch.no_grad()
def evaluate(model, split, batch_size, device, with_text=False, seed=0):
    """Mean loss terms over `split` and Average Hoyer of one posterior sample per sentence
    (`ah_sample`) and of the posterior means (`ah_mean`)."""
    torch.manual_seed(seed)
    sums = {}
    samples, means = torch.empty(len(split), model.latent_dim), torch.empty(len(split), model.latent_dim)
    for indices in bucketed_batches(split.lengths, batch_size):
        batch = split.batch(indices, with_text).to(device)
        features = model.encoder(batch)
        for key, value in model.loss_terms(batch, features).items():
            sums[key] = sums.get(key, 0.0) + float(value) * len(indices)
        samples[indices] = model.sample_from_features(features)[0].float().cpu()
        means[indices] = model.mean_from_features(features).float().cpu()
    metrics = {key: value / len(split) for key, value in sums.items()}
    metrics["ah_sample"] = average_hoyer(samples)
    metrics["ah_mean"] = average_hoyer(means)
    return metrics


def pretrain(name, params, train_split, valid_split, vocab_size, device, dtype, model_path,
             checkpoint=None, live=None, progress=True):
    """Train the VAE `name` with its params section; save it to `model_path`; return the
    per-epoch history."""
    arch, train, hparams = params["arch"], params["train"], params[name]
    seed = params["seed"]
    torch.manual_seed(seed)
    model = build_vae(name, vocab_size, arch, hparams).to(device)
    model.decoder.ce_chunk = train["ce_chunk"]
    with_text = arch_uses_text(name)
    lr = train["bert_lr"] if with_text else train["lr"]
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)

    def terms(indices):
        return model.loss_terms(train_split.batch(indices, with_text).to(device))

    def batches(rng):
        return bucketed_batches(train_split.lengths, train["batch_size"], rng)

    def validate():
        found = evaluate(model, valid_split, train["eval_batch_size"], device, with_text, seed)
        return {f"valid/{k}": v for k, v in found.items()}

    fingerprint = hashlib.sha256(json.dumps([name, vocab_size, arch, train, hparams, seed]).encode()).hexdigest()
    history = fit(name=name, model=model, optimizer=optimizer, terms=terms, batches=batches, evaluate=validate,
                  epochs=train["epochs"], seed=seed, device=device, dtype=dtype, grad_clip=train["grad_clip"],
                  checkpoint=checkpoint, live=live, fingerprint=fingerprint, progress=progress)
    save(model_path, model.state_dict(), name=name, vocab_size=vocab_size, arch=arch, hparams=hparams)
    return model, history


def arch_uses_text(name):
    """BERT-encoder models read the sentences' text."""
    return name.startswith("b_") or name == "bert"
