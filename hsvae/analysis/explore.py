"""What each latent dimension means: for every dimension of a model's codes, how often it is on,
the sentences that switch it on (signed, by band, and a few where it is off), the words
over-represented where it is on, its classes, the dimensions that switch on with it, and a
coherence score of its words — the data of the explorer page (hsvae/analysis/explore_page.py).

"On": for a model with gamma (HSVAE), a sentence's dimension is on when its mean spike
probability E[gamma] is below 0.5 (the slab is more likely), as in the paper's §4.4 and `hsvae
encode`; for a dense model, when |E[z]| exceeds 0.5 of the dimension's standard deviation over
the training sentences (`hsvae encode`'s threshold). One definition for every dense model.
"""
import math
from collections import Counter
from pathlib import Path

import numpy as np
from scipy import sparse

from hsvae.analysis.explore_page import model_page
from hsvae.analysis.figures import GAMMA_OFF
from hsvae.core.atomic import write_json, write_text
from hsvae.data.vocabulary import UNK_MARKERS

DENSE_THRESHOLD = 0.5   # dense: on when |E[z]| / training std > this
DEAD, ALWAYS_ON = 0.01, 0.99  # on for fewer / more sentences than these shares
PRIOR_STRENGTH = 500.0  # alpha_0 of the informative Dirichlet prior (Monroe et al. 2008)
TOP_WORDS, TOP_SENTENCES, BANDS, PER_BAND, OFF_EXAMPLES = 20, 5, 5, 2, 3
NPMI_WORDS, CO_ACTIVE, BINS = 10, 5, 30
QUANTILES = (0.05, 0.25, 0.5, 0.75, 0.95)
# The scores DVC tracks per model (reports/explore/metrics.json): what `dvc exp show` compares
METRICS = ("mean_purity", "mean_nmi", "mean_npmi", "dead", "always_on", "active_per_sentence")


def is_word(token: str) -> bool:
    """Tokens the word statistics count: a letter or digit in them, not an unknown-word marker."""
    return token not in UNK_MARKERS and any(ch.isalnum() for ch in token)


def on_codes(mean: np.ndarray, gamma: np.ndarray | None, scale) -> tuple:
    """(on (N, D) bool, on-score (N, D), the definition in words) of a model's codes."""
    if gamma is not None:
        return gamma < GAMMA_OFF, 1.0 - gamma, f"E[γ] < {GAMMA_OFF:g} (the slab more likely than the spike)"
    score = np.abs(mean) / np.asarray(scale, dtype=mean.dtype)
    return score > DENSE_THRESHOLD, score, f"|E[z]| > {DENSE_THRESHOLD:g} × the dimension's training std"


def presence(token_lists, vocab: dict) -> sparse.csr_matrix:
    """(sentences, words) 0/1: which words each sentence contains (a word once per sentence)."""
    rows, cols = [], []
    for row, tokens in enumerate(token_lists):
        ids = {vocab[t] for t in tokens if t in vocab}
        rows += [row] * len(ids)
        cols += sorted(ids)
    return sparse.csr_matrix((np.ones(len(rows), dtype=np.float64), (rows, cols)), shape=(len(token_lists), len(vocab)))


def log_odds(on_counts, off_counts, n_on: float, n_off: float, prior_counts, alpha0: float = PRIOR_STRENGTH):
    """Log-odds ratio of each word between the on and off sentences with an informative
    Dirichlet prior (Monroe, Colaresi & Quinn 2008, eq. 16-22): counts are the numbers of
    sentences containing the word; the prior is alpha0 times each word's share of the counts
    over both groups. Returns (delta, z-score)."""
    on_counts, off_counts, prior_counts = (np.asarray(a, dtype=np.float64) for a in (on_counts, off_counts, prior_counts))
    alpha = alpha0 * prior_counts / prior_counts.sum()
    on_odds = np.log(on_counts + alpha) - np.log(n_on + alpha0 - on_counts - alpha)
    off_odds = np.log(off_counts + alpha) - np.log(n_off + alpha0 - off_counts - alpha)
    delta = on_odds - off_odds
    variance = 1.0 / (on_counts + alpha) + 1.0 / (off_counts + alpha)
    return delta, delta / np.sqrt(variance)


def nmi(a, b) -> float:
    """Normalised mutual information of two labelings, arithmetic-mean normalisation (as
    scikit-learn's default); 1.0 when both are constant, 0.0 when one is."""
    _, a = np.unique(a, return_inverse=True)
    _, b = np.unique(b, return_inverse=True)
    joint = np.zeros((a.max() + 1, b.max() + 1))
    np.add.at(joint, (a, b), 1)
    joint /= joint.sum()
    pa, pb = joint.sum(1), joint.sum(0)
    entropy = lambda p: -float(np.sum(p[p > 0] * np.log(p[p > 0])))  # noqa: E731
    ha, hb = entropy(pa), entropy(pb)
    if ha == 0 and hb == 0:
        return 1.0
    if ha == 0 or hb == 0:
        return 0.0
    nz = joint > 0
    mi = float(np.sum(joint[nz] * np.log(joint[nz] / np.outer(pa, pb)[nz])))
    return max(mi, 0.0) / ((ha + hb) / 2)


def ranks(scores) -> np.ndarray:
    """1-based ranks of `scores`, ties given their average rank."""
    scores = np.asarray(scores, dtype=np.float64)
    order = np.argsort(scores, kind="mergesort")
    sorted_scores = scores[order]
    starts = np.r_[0, np.flatnonzero(np.diff(sorted_scores)) + 1]
    sizes = np.diff(np.r_[starts, len(scores)])
    average = np.repeat(starts + (sizes + 1) / 2, sizes)
    out = np.empty(len(scores))
    out[order] = average
    return out


def auroc(scores, positive, ranked=None) -> float | None:
    """Area under the ROC curve of `scores` for the boolean `positive` (ties count half: the
    Mann-Whitney statistic); None where either class is empty. `ranked`: ranks(scores), when
    the caller scores several classes against one dimension."""
    positive = np.asarray(positive, dtype=bool)
    n_pos, n_neg = int(positive.sum()), int((~positive).sum())
    if n_pos == 0 or n_neg == 0:
        return None
    ranked = ranks(scores) if ranked is None else ranked
    return float((ranked[positive].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


def npmi(words, train_presence: sparse.csr_matrix, vocab: dict) -> float | None:
    """Mean normalised PMI over the pairs of `words`, from their co-occurrence in the training
    sentences (Bouma 2009; -1 never together, 0 independent, 1 always together); a pair never
    seen together counts -1. None for fewer than two known words."""
    ids = [vocab[w] for w in words if w in vocab]
    if len(ids) < 2:
        return None
    columns = train_presence[:, ids]
    n = train_presence.shape[0]
    single = np.asarray(columns.sum(0)).ravel() / n
    joint = (columns.T @ columns).toarray() / n
    values = []
    for i in range(len(ids)):
        for j in range(i + 1, len(ids)):
            p = joint[i, j]
            if p == 0 or single[i] == 0 or single[j] == 0:
                values.append(-1.0)
            elif p == 1:
                values.append(1.0)
            else:
                values.append(math.log(p / (single[i] * single[j])) / -math.log(p))
    return float(np.mean(values))


def _histogram(values) -> dict:
    values = np.asarray(values, dtype=np.float64)
    if values.size == 0:
        return {"edges": [], "counts": [], "quantiles": {}}
    counts, edges = np.histogram(values, bins=BINS)
    return {"edges": [round(float(e), 5) for e in edges], "counts": counts.tolist(),
            "quantiles": {f"{q:g}": round(float(np.quantile(values, q)), 5) for q in QUANTILES}}


def _sentence(index, value, texts, labels, class_names):
    return {"i": int(index), "value": round(float(value), 4), "text": texts[index],
            "class": class_names[labels[index]] if labels is not None else None}


def explore(mean, gamma, scale, texts, labels, class_names, train_texts, seed=0) -> dict:
    """Every dimension's card and the summary row the page shows, from a model's codes of a
    split (`mean` E[z|x], `gamma` E[gamma|x] or None; `scale` the training std per dimension),
    the split's sentences (tokenised text, one string each) and labels (None: unlabelled), and
    the training sentences (the coherence score's reference)."""
    rng = np.random.default_rng(seed)
    n, dims = mean.shape
    on, score, definition = on_codes(mean, gamma, scale)
    tokens = [t.split() for t in texts]
    counted = Counter(w for ts in tokens for w in set(ts) if is_word(w))
    vocab = {w: i for i, w in enumerate(sorted(counted))}
    words = np.array(sorted(counted), dtype=object)
    x = presence(tokens, vocab)
    on_f = on.astype(np.float64)
    on_counts = sparse.csr_matrix(on_f.T) @ x  # (D, V) sentences with the word where the dimension is on
    totals = np.asarray(x.sum(0)).ravel()
    train_tokens = [t.split() for t in train_texts]
    train_vocab = {w: i for i, w in enumerate(sorted({w for ts in train_tokens for w in ts if is_word(w)}))}
    train_x = presence(train_tokens, train_vocab)
    together = on_f.T @ on_f  # (D, D) sentences where both are on
    rate = on.mean(0)
    label_array = np.asarray(labels) if labels is not None else None
    cards = []
    for d in range(dims):
        card = {"dim": d, "on_rate": round(float(rate[d]), 4), "flag": "dead" if rate[d] < DEAD else
                "always on" if rate[d] > ALWAYS_ON else None}
        if gamma is not None:
            card["spike_probability"] = round(float(gamma[:, d].mean()), 4)
        card["values"] = _histogram(mean[:, d])
        card["on_scores"] = _histogram(score[:, d])
        ons, offs = np.flatnonzero(on[:, d]), np.flatnonzero(~on[:, d])
        by_value = ons[np.argsort(mean[ons, d], kind="mergesort")]
        card["top_positive"] = [_sentence(i, mean[i, d], texts, label_array, class_names)
                                for i in by_value[::-1][:TOP_SENTENCES] if mean[i, d] > 0]
        card["top_negative"] = [_sentence(i, mean[i, d], texts, label_array, class_names)
                                for i in by_value[:TOP_SENTENCES] if mean[i, d] < 0]
        bands = []
        for b, part in enumerate(np.array_split(by_value, BANDS) if len(by_value) >= BANDS else []):
            picked = rng.choice(part, size=min(PER_BAND, len(part)), replace=False)
            bands.append({"band": b + 1, "low": round(float(mean[part[0], d]), 4),
                          "high": round(float(mean[part[-1], d]), 4),
                          "sentences": [_sentence(i, mean[i, d], texts, label_array, class_names) for i in picked]})
        card["bands"] = bands
        card["off"] = [_sentence(i, mean[i, d], texts, label_array, class_names)
                       for i in (rng.choice(offs, size=min(OFF_EXAMPLES, len(offs)), replace=False) if len(offs) else [])]
        if len(ons) and len(offs):
            counts_on = np.asarray(on_counts[d].todense()).ravel()
            delta, z = log_odds(counts_on, totals - counts_on, len(ons), len(offs), totals)
            order = np.argsort(-z, kind="mergesort")
            card["words_over"] = [{"word": words[i], "z": round(float(z[i]), 3), "on": int(counts_on[i])}
                                  for i in order[:TOP_WORDS]]
            card["words_under"] = [{"word": words[i], "z": round(float(z[i]), 3), "on": int(counts_on[i])}
                                   for i in order[::-1][:TOP_WORDS]]
        else:
            card["words_over"], card["words_under"] = [], []
        top = [w["word"] for w in card["words_over"][:NPMI_WORDS]]
        coherence = npmi(top, train_x, train_vocab) if top else None
        card["npmi"] = None if coherence is None else round(coherence, 4)
        if label_array is not None:
            classes, ranked = [], ranks(score[:, d])
            for c, name in enumerate(class_names):
                members = label_array == c
                p_on = float(on[members, d].mean()) if members.any() else None
                classes.append({"class": name, "p_on": None if p_on is None else round(p_on, 4),
                                "lift": round(p_on / rate[d], 3) if p_on is not None and rate[d] > 0 else None,
                                "auroc": None if (a := auroc(None, members, ranked)) is None else round(a, 4)})
            card["classes"] = classes
            shares = np.bincount(label_array[ons], minlength=len(class_names)) / len(ons) if len(ons) else None
            card["best_class"] = class_names[int(shares.argmax())] if shares is not None else None
            card["purity"] = round(float(shares.max()), 4) if shares is not None else None
            card["nmi"] = round(nmi(on[:, d], label_array), 4)
        co = together[d] / together[d, d] if together[d, d] else np.zeros(dims)
        others = [j for j in np.argsort(-co, kind="mergesort") if j != d and co[j] > 0][:CO_ACTIVE]
        card["co_active"] = [{"dim": int(j), "p_on_given_this": round(float(co[j]), 4),
                              "lift": round(float(co[j] / rate[j]), 3) if rate[j] else None} for j in others]
        cards.append(card)
    return {"sentences": n, "dimensions": dims, "on_definition": definition, "labelled": labels is not None,
            "classes": list(class_names) if labels is not None else [],
            "active_per_sentence": round(float(on.sum(1).mean()), 3), "cards": cards}


def scores(explored: dict) -> dict:
    """A model's readability scores: means over its active dimensions (neither dead nor always
    on) of purity, NMI and NPMI (None where no dimension has one), the counts of dead and
    always-on dimensions and the mean number of dimensions on per sentence."""
    cards = explored["cards"]
    active = [c for c in cards if c["flag"] is None]

    def mean(key):
        values = [c[key] for c in active if c.get(key) is not None]
        return round(float(np.mean(values)), 4) if values else None

    return {"active_dimensions": len(active), "dead": sum(c["flag"] == "dead" for c in cards),
            "always_on": sum(c["flag"] == "always on" for c in cards), "mean_purity": mean("purity"),
            "mean_nmi": mean("nmi"), "mean_npmi": mean("npmi"),
            "active_per_sentence": explored["active_per_sentence"]}


def saved_page(saved: dict) -> str:
    """The page of an explorer JSON that write_explorer saved, drawn by this version's page code."""
    explored = {k: v for k, v in saved.items() if k not in ("model", "title", "scores", "made_with")}
    return model_page(saved["title"], explored, saved["scores"])


def write_explorer(out, name: str, title: str, explored: dict, record: dict | None = None) -> dict:
    """out/NAME.json (the cards, the scores and `record`: what made them) and out/NAME.html, each
    whole or not at all; returns the scores."""
    found = scores(explored)
    write_json(Path(out) / f"{name}.json", {"model": name, "title": title, "scores": found,
                                             **({"made_with": record} if record is not None else {}), **explored})
    write_text(Path(out) / f"{name}.html", model_page(title, explored, found))
    return found
