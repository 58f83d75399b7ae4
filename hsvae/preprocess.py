"""Paper §4.1.1: clean, tokenise with spaCy, lower-case, sample per class, build the
vocabulary from the training split, and store the splits as token-id arrays."""
import math
import re
from collections import Counter
from pathlib import Path

import numpy as np

from hsvae.batching import SPECIALS, UNK
from hsvae.corpora import SPLITS, layout, read_csv, read_split

_HYPERLINK = re.compile(r"(?:https?://|ftp://|www\.)\S+", re.IGNORECASE)
_QUOTES = re.compile(r"\"|``|''|`")
_SPACES = re.compile(r"\s+")
# Unknown-word markers of the authors' preprocessed corpora.
UNK_MARKERS = {"_UNK", "_unk"}


def clean(text: str) -> str:
    """Remove hyperlinks, non-ASCII characters and quotation marks; squeeze white space."""
    text = _HYPERLINK.sub(" ", text)
    text = text.encode("ascii", "ignore").decode("ascii")
    text = _QUOTES.sub(" ", text)
    return _SPACES.sub(" ", text).strip()


def make_tokenizer():
    import spacy

    return spacy.blank("en")


def tokenize(texts, nlp=None, batch_size: int = 2000) -> list:
    """Clean, tokenise (batched `nlp.tokenizer.pipe`) and lower-case; one token list per text."""
    nlp = nlp or make_tokenizer()
    cleaned = [clean(t) for t in texts]
    return [[t.lower_ for t in doc] for doc in nlp.tokenizer.pipe(cleaned, batch_size=batch_size)]


_worker_nlp = None


def _tokenize_chunk(texts):
    global _worker_nlp
    _worker_nlp = _worker_nlp or make_tokenizer()
    # One string per sentence pickles far faster than lists of tokens; tokens never contain
    # spaces (cleaning squeezes white space), so splitting on " " restores them exactly.
    return [" ".join(tokens) for tokens in tokenize(texts, _worker_nlp)]


def tokenize_parallel(texts, workers: int, chunk: int = 5000) -> list:
    """`tokenize` spread over `workers` processes (results in input order)."""
    if workers <= 1 or len(texts) <= chunk:
        return tokenize(texts)
    import multiprocessing

    chunks = [texts[i : i + chunk] for i in range(0, len(texts), chunk)]
    with multiprocessing.get_context("fork").Pool(workers) as pool:
        return [joined.split(" ") if joined else [] for part in pool.imap(_tokenize_chunk, chunks) for joined in part]


class Vocabulary:
    """Word <-> id; ids 0, 1, 2 are <pad>, <eos>, <unk>."""

    def __init__(self, words):
        self.words = list(SPECIALS) + [w for w in words if w not in SPECIALS and w not in UNK_MARKERS]
        self.index = {w: i for i, w in enumerate(self.words)}

    @classmethod
    def from_counts(cls, counts: Counter, size: int):
        # Most frequent first; ties broken alphabetically so the result is deterministic.
        ranked = sorted(counts.items(), key=lambda item: (-item[1], item[0]))
        return cls([w for w, _ in ranked if w not in UNK_MARKERS and w not in SPECIALS][:size])

    @classmethod
    def load(cls, path):
        return cls(Path(path).read_text(encoding="utf-8").splitlines()[len(SPECIALS):])

    def save(self, path):
        Path(path).write_text("\n".join(self.words) + "\n", encoding="utf-8")

    def __len__(self):
        return len(self.words)

    def encode(self, tokens) -> np.ndarray:
        return np.array([self.index.get(t, UNK) for t in tokens], dtype=np.int32)


class CorpusTooSmall(ValueError):
    pass


def reservoir_by_class(rows, classes: int, capacity: int, rng: np.random.Generator):
    """A uniform sample of at most `capacity` texts per class from a stream of (label, text),
    in memory bounded by classes x capacity (Algorithm R)."""
    kept = [[] for _ in range(classes)]
    seen = np.zeros(classes, dtype=np.int64)
    for label, text in rows:
        seen[label] += 1
        if len(kept[label]) < capacity:
            kept[label].append(text)
        else:
            j = rng.integers(seen[label])
            if j < capacity:
                kept[label][j] = text
    return kept, seen


def sample_csv(raw: Path, data: dict, seed: int, text_column: int, classes: int, stats: dict):
    """Per class: exactly per_class[split] sentences within the length limits, train and
    valid drawn disjointly from train.csv, test from test.csv. Only the sampled candidates
    are tokenised, all classes at once over `data["workers"]` processes."""
    per_class, oversample = data["per_class"], data["oversample"]
    low, high = data["min_length"], data["max_length"]
    rng = np.random.default_rng(seed)
    pools = {"train": ("train", "valid"), "test": ("test",)}
    splits = {s: ([], []) for s in SPLITS}
    dropped = stats.setdefault("dropped", Counter())
    for pool, pool_splits in pools.items():
        need = sum(per_class[s] for s in pool_splits)
        kept, seen = reservoir_by_class(
            read_csv(raw / f"{pool}.csv", text_column, classes, dropped), classes, math.ceil(need * oversample), rng
        )
        tokens = iter(tokenize_parallel([t for texts in kept for t in texts], data["workers"]))
        for label in range(classes):
            candidates = [t for t in (next(tokens) for _ in kept[label]) if low <= len(t) <= high]
            dropped["length"] += len(kept[label]) - len(candidates)
            if len(candidates) < need:
                raise CorpusTooSmall(
                    f"{raw / f'{pool}.csv'}: class {label + 1} has {len(candidates)} sentences of "
                    f"{low}-{high} tokens among {len(kept[label])} sampled of {seen[label]}, "
                    f"but {' + '.join(f'{per_class[s]} {s}' for s in pool_splits)} = {need} are needed"
                )
            order = rng.permutation(len(candidates))[:need]
            start = 0
            for split in pool_splits:
                chosen = order[start : start + per_class[split]]
                splits[split][0].extend(candidates[i] for i in chosen)
                splits[split][1].extend([label] * len(chosen))
                start += per_class[split]
    return splits


def read_presplit(raw: Path):
    """Authors' or local splits, kept whole: lines are already tokenised, tokens are split on
    white space and kept as they are."""
    splits = {}
    for split in SPLITS:
        sentences, labels = read_split(raw, split)
        splits[split] = ([line.split() for line in sentences], labels)
    return splits


def preprocess(raw: Path, out: Path, data: dict, seed: int, corpus_spec=None):
    """Write out/{split}.npz (tokens, offsets, labels), out/{split}.txt, out/vocab.txt,
    out/classes.txt; return the statistics of the paper's Table 2."""
    stats = {"dropped": Counter()}
    if layout(data["corpus"]) == "csv":
        classes = len((raw / "classes.txt").read_text().split())
        text_column = corpus_spec.text_column if corpus_spec is not None else 1
        splits = sample_csv(raw, data, seed, text_column, classes, stats)
    else:
        splits = read_presplit(raw)
        classes = 1 + max(max(labels) for _, labels in splits.values())
    if (raw / "vocab.txt").exists():
        listed = [w for w in (raw / "vocab.txt").read_text(encoding="utf-8").splitlines() if w not in UNK_MARKERS]
        vocab = Vocabulary(listed[: data["vocab_size"]])
    else:
        vocab = Vocabulary.from_counts(Counter(t for s in splits["train"][0] for t in s), data["vocab_size"])
    names = (raw / "classes.txt").read_text().split() if (raw / "classes.txt").exists() else []
    if len(names) != classes:
        names = [f"class_{i}" for i in range(classes)]

    out.mkdir(parents=True, exist_ok=True)
    vocab.save(out / "vocab.txt")
    (out / "classes.txt").write_text("\n".join(names) + "\n")
    summary = {"classes": classes, "vocabulary": len(vocab) - len(SPECIALS), "splits": {}}
    for split, (sentences, labels) in splits.items():
        ids = [vocab.encode(s) for s in sentences]
        lengths = np.array([len(s) for s in ids], dtype=np.int64)
        np.savez(out / f"{split}.npz", tokens=np.concatenate(ids) if ids else np.zeros(0, np.int32),
                 offsets=np.concatenate([[0], np.cumsum(lengths)]), labels=np.array(labels, dtype=np.int64))
        (out / f"{split}.txt").write_text("\n".join(" ".join(s) for s in sentences) + "\n", encoding="utf-8")
        summary["splits"][split] = {
            "sentences": len(ids),
            "min_length": int(lengths.min()) if len(ids) else 0,
            "mean_length": round(float(lengths.mean()), 2) if len(ids) else 0.0,
            "max_length": int(lengths.max()) if len(ids) else 0,
            "unk_rate": round(float(sum((s == UNK).sum() for s in ids) / max(lengths.sum(), 1)), 4),
            "per_class": {names[c]: int(n) for c, n in zip(*np.unique(labels, return_counts=True))},
        }
    summary["dropped"] = dict(stats["dropped"])
    return summary
