"""The downstream experiment (§4.2): a small classifier on frozen codes, the latent
variables marginalised by Monte Carlo, p(y|x) ~ (1/K) sum_k p(y|z_k); and the supervised
baselines (the simple classifier, frozen BERT features)."""
import math
from functools import partial

import torch
import torch.nn.functional as F

from hsvae.analysis.evaluation import encoder_features, map_split
from hsvae.analysis.metrics import accuracy
from hsvae.data.batching import bucketed_batches, random_batches
from hsvae.models.classifier import ClassifierHead, SimpleClassifier
from hsvae.models.nets import BertEncoder
from hsvae.training.train import Objective, fit


def marginal_log_probs(head, z_samples):
    """log p(y|x) = log (1/K) sum_k softmax(head(z_k)), from z_samples (K, B, D) -> (B, C)."""
    log_probs = F.log_softmax(head(z_samples).float(), -1)
    return torch.logsumexp(log_probs, 0) - math.log(z_samples.shape[0])


def train_head(name, features, labels, sample, n_classes, cfg, seed, device, live=None, progress=True):
    """Train ClassifierHead on codes drawn by sample(feature_rows) -> (K, B, D) from fixed
    encoder features; return (head, history, predictions per split)."""
    torch.manual_seed(seed)
    code_dim = sample(features["train"][:2].to(device)).shape[-1]
    head = ClassifierHead(code_dim, n_classes, cfg.hidden).to(device)
    optimizer = torch.optim.Adam(head.parameters(), lr=cfg.lr)
    train_x, train_y = features["train"], torch.as_tensor(labels["train"])

    def predict(split):
        rows = []
        for chunk in torch.split(torch.arange(len(features[split])), 1024):
            rows.append(marginal_log_probs(head, sample(features[split][chunk].to(device))).argmax(-1).cpu())
        return torch.cat(rows).numpy()

    def terms(indices):
        indices = torch.as_tensor(indices)
        log_p = marginal_log_probs(head, sample(train_x[indices].to(device)))
        loss = F.nll_loss(log_p, train_y[indices].to(device))
        return {"nll": loss, "total": loss}

    def evaluate():
        torch.manual_seed(seed)
        return {"valid/accuracy": accuracy(labels["valid"], predict("valid"))}

    history = fit(name, head, Objective(terms, optimizer), partial(random_batches, len(train_x), cfg.batch_size),
                  evaluate, epochs=cfg.epochs, seed=seed, device=device, live=live, progress=progress)
    torch.manual_seed(seed + 1)
    with torch.no_grad():
        predictions = {split: predict(split) for split in features}
    return head, history, predictions


def train_simple_classifier(train_split, valid_split, test_split, vocab_size, arch, train_cfg, cfg, seed,
                            device, dtype=None, live=None, progress=True):
    """The paper's simple classifier: the GRU encoder trained together with the head."""
    torch.manual_seed(seed)
    model = SimpleClassifier(vocab_size, arch.embedding_dim, arch.hidden_dim, train_split.classes,
                             cfg.hidden).to(device)
    optimizer = torch.optim.Adam(model.parameters(), lr=train_cfg.lr)

    def terms(batch):
        loss = F.cross_entropy(model(batch).float(), batch.labels)
        return {"nll": loss, "total": loss}

    def predict(split):
        logits = map_split(split, train_cfg.eval_batch_size, device, model, split.classes)
        return logits.argmax(-1).numpy()

    def evaluate():
        return {"valid/accuracy": accuracy(valid_split.labels, predict(valid_split))}

    history = fit("classifier", model, Objective(terms, optimizer, train_cfg.grad_clip, dtype),
                  lambda rng: bucketed_batches(train_split.lengths, cfg.batch_size, rng), evaluate,
                  load=lambda indices: train_split.batch(indices).to(device), epochs=cfg.epochs, seed=seed,
                  device=device, live=live, progress=progress)
    model.eval()
    return model, history, {"valid": predict(valid_split), "test": predict(test_split)}


def classify_frozen(name, encoder, sample, splits, cfg, seed, batch_size, device, live=None):
    """The frozen-encoder classifier: encoder features of every split computed once, codes drawn
    from them by sample(rows) -> (K, B, D); returns predictions per split."""
    with torch.no_grad():
        features = {s: encoder_features(encoder, split, batch_size, device) for s, split in splits.items()}
    labels = {s: split.labels for s, split in splits.items()}
    _, _, predictions = train_head(name, features, labels, sample, splits["train"].classes, cfg, seed, device, live)
    return predictions


def classify_vae(model, splits, cfg, device, live=None):
    """§4.2: a classifier on codes sampled from the frozen VAE's posterior, K samples per sentence."""
    model.requires_grad_(False)
    return classify_frozen(cfg.name, model.encoder, lambda rows: model.sample_from_features(rows, cfg.classify.samples),
                           splits, cfg.classify, cfg.train.seed, cfg.train.eval_batch_size, device, live)


def _simple_classifier(cfg, splits, vocab_size, device, dtype, live):
    _, _, predictions = train_simple_classifier(splits["train"], splits["valid"], splits["test"], vocab_size,
                                                cfg.arch, cfg.train, cfg.classify, cfg.train.seed,
                                                device, dtype, live)
    return predictions


def _frozen_bert(cfg, splits, vocab_size, device, dtype, live):
    encoder = BertEncoder(cfg.arch.bert).to(device).eval()
    return classify_frozen("bert", encoder, lambda rows: rows.unsqueeze(0), splits, cfg.classify,
                           cfg.train.seed, cfg.train.eval_batch_size, device, live)


# a baseline's encoder (models/registry.py BASELINES) -> how it is trained:
# (stage config, splits, vocab_size, device, dtype, live) -> predictions
TRAIN_BASELINE = {"gru": _simple_classifier, "bert": _frozen_bert}
