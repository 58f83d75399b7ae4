"""Pretraining a VAE on the corpus (paper §4.2)."""
import hashlib
import json

import torch

from hsvae.analysis.evaluation import evaluate, posterior_means
from hsvae.data.batching import bucketed_batches, random_batches
from hsvae.models.registry import VAE_MODELS, build_vae
from hsvae.models.store import save
from hsvae.training.train import fit


def pretrain(cfg, train_split, valid_split, vocab_size, device, dtype, model_path,
             checkpoint=None, live=None, progress=True, vocab_words=None):
    """Train the VAE of the stage config `cfg` (name, arch, train, hparams); save it to
    `model_path` with what encoding new text needs (`vocab_words`, and the per-dimension
    standard deviation of the posterior means over the training split, which scores the
    activity of models without gamma); return the model and the per-epoch history."""
    name, arch, train, hparams = cfg["name"], cfg["arch"], cfg["train"], cfg["hparams"]
    spec, seed = VAE_MODELS[name], train["seed"]
    torch.manual_seed(seed)
    model = build_vae(name, vocab_size, arch, hparams, ce_chunk=train["ce_chunk"]).to(device)
    optimizer = torch.optim.Adam(model.parameters(), lr=train["bert_lr"] if spec.encoder == "bert" else train["lr"])

    def terms(indices):
        return model.loss_terms(train_split.batch(indices).to(device))

    def batches(rng):
        # A loss that treats the batch as a sample of q(z) (MAT-VAE's MMD) needs random batches;
        # length buckets would make each batch one slice of sentence lengths.
        if model.batch_is_sample:
            return random_batches(len(train_split), train["batch_size"], rng)
        return bucketed_batches(train_split.lengths, train["batch_size"], rng)

    def validate():
        found = evaluate(model, valid_split, train["eval_batch_size"], device, seed)
        return {f"valid/{k}": v for k, v in found.items()}

    # The checkpoint resumes only this run: same settings and the same training data.
    identity = [cfg, vocab_size, train_split.digest, valid_split.digest]
    fingerprint = hashlib.sha256(json.dumps(identity, sort_keys=True).encode()).hexdigest()
    history = fit(name=name, model=model, optimizer=optimizer, terms=terms, batches=batches, evaluate=validate,
                  epochs=train["epochs"], seed=seed, device=device, dtype=dtype, grad_clip=train["grad_clip"],
                  checkpoint=checkpoint, live=live, fingerprint=fingerprint, progress=progress)
    model.eval()
    std = posterior_means(model, train_split, train["eval_batch_size"], device).std(0)
    save(model_path, model.state_dict(), name=name, vocab_size=vocab_size, arch=arch, hparams=hparams,
         vocab=list(vocab_words) if vocab_words is not None else None,
         dimension_scale=[float(s) if s > 0 else 1.0 for s in std])
    return model, history
