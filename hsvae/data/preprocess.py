"""Paper §4.1.1: clean, tokenise with spaCy, lower-case, sample per class, build the
vocabulary from the training split, and store the splits as token-id arrays."""
import math
import re
from collections import Counter
from pathlib import Path

import numpy as np

from hsvae.data.corpora import CORPORA, SPLITS, read_csv, read_lines, read_split
from hsvae.core.errors import InputError
from hsvae.data.vocabulary import SPECIALS, UNK, UNK_MARKERS, Vocabulary

_HYPERLINK = re.compile(r"(?:https?://|ftp://|www\.)\S+", re.IGNORECASE)


def clean(text: str) -> str:
    """Remove hyperlinks, non-ASCII characters and quotation marks (" `` '' `); squeeze white
    space. String methods where they suffice: cleaning is a third of preprocessing otherwise."""
    if "://" in text or "www." in text.lower():
        text = _HYPERLINK.sub(" ", text)
    text = text.encode("ascii", "ignore").decode("ascii")
    text = text.replace('"', " ").replace("`", " ").replace("''", " ")
    return " ".join(text.split())


class Tokenizer:
    """spaCy's English tokenizer (`spacy.blank("en")`), lower-cased, memoised per chunk.

    spaCy splits a text on white space and tokenises each chunk on its own (a special case
    without a space cannot span two chunks), so remembering each chunk's tokens gives exactly
    its output. Its own cache keeps 10,000 chunks and still builds a `Doc` of Python `Token`
    objects per text; the memo returns joined strings for any chunk seen before. Cleaned text
    has single spaces only, so the special cases for white space itself never apply."""

    MEMO_SIZE = 1_000_000  # distinct chunks kept (about 160 MB); the memo restarts when full

    def __init__(self):
        import spacy

        self.spacy = spacy.blank("en").tokenizer
        if any(" " in rule and rule.strip() for rule in self.spacy.rules):
            raise ValueError("spaCy tokenizer: a special case contains a space; chunks are not independent")
        self.memo = {}

    def _remember(self, chunk: str) -> str:
        if len(self.memo) >= self.MEMO_SIZE:
            self.memo.clear()
        tokens = self.memo[chunk] = " ".join([t.lower_ for t in self.spacy(chunk)])
        return tokens

    def __call__(self, text: str) -> str:
        """clean(text), tokenised and lower-cased, as tokens joined by single spaces."""
        memo = self.memo
        return " ".join([memo.get(c) or self._remember(c) for c in clean(text).split(" ")])


def tokenize(texts, tokenizer=None) -> list:
    """Clean, tokenise and lower-case; one token list per text."""
    tokenizer = tokenizer or Tokenizer()
    return [tokenizer(t).split() for t in texts]


_forked_tokenizer = None  # the parent's tokenizer, inherited by forked workers


def _tokenize_chunk(texts):
    return [_forked_tokenizer(t) for t in texts]


def tokenize_joined(texts, workers: int, tokenizer: Tokenizer, chunk: int = 20_000) -> list:
    """Each text cleaned, tokenised and lower-cased, as one space-joined string (one string
    per sentence crosses process boundaries and stays compact in memory), over `workers`
    processes, in input order."""
    if workers <= 1 or len(texts) <= chunk:
        return [tokenizer(t) for t in texts]
    import multiprocessing

    global _forked_tokenizer
    _forked_tokenizer = tokenizer
    chunks = [texts[i : i + chunk] for i in range(0, len(texts), chunk)]
    with multiprocessing.get_context("fork").Pool(workers) as pool:
        return [joined for part in pool.imap(_tokenize_chunk, chunks) for joined in part]


def length(joined: str) -> int:
    """Tokens in a space-joined sentence."""
    return joined.count(" ") + 1 if joined else 0


def all_tokens(sentences) -> list:
    """The tokens of space-joined sentences, in order, as one list."""
    text = " ".join(s for s in sentences if s)
    return text.split(" ") if text else []


# A split with more unknown words than this trains on <unk>: a vocabulary file read wrongly, or
# a vocabulary far too small for the corpus.
MAX_UNK_RATE = 0.5


def read_vocab_file(path: Path, shown: Path) -> list:
    """The words of a vocabulary file: one per line, surrounding white space (a CRLF line end
    too) removed; `word<TAB>count` or `word count` lines give their word. Any other line is
    an error naming `shown` (the user's file) and the line."""
    words = []
    for number, line in enumerate(read_lines(path, shown=shown), 1):
        fields = line.split()
        if len(fields) == 1 or (len(fields) == 2 and fields[1].isdigit()):
            words.append(fields[0])
        elif fields:
            raise InputError(f"{shown}, line {number}: {line.strip()!r}; expected one word per line "
                             "(or a word and its count)")
    return words


class CorpusTooSmall(InputError):
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


def sample_csv(raw: Path, data, seed: int, text_column: int, classes: int, stats: dict):
    """Per class: exactly per_class.SPLIT sentences within the length limits, train and
    valid drawn disjointly from train.csv, test from test.csv. Only the sampled candidates
    are tokenised, all classes at once over `data.workers` processes."""
    per_class, oversample = data.per_class, data.oversample
    low, high = data.min_length, data.max_length
    rng = np.random.default_rng(seed)
    pools = {"train": ("train", "valid"), "test": ("test",)}
    splits = {s: ([], []) for s in SPLITS}
    dropped = stats.setdefault("dropped", Counter())
    tokenizer = Tokenizer()
    for pool, pool_splits in pools.items():
        need = sum(getattr(per_class, s) for s in pool_splits)
        kept, seen = reservoir_by_class(
            read_csv(raw / f"{pool}.csv", text_column, classes, dropped), classes, math.ceil(need * oversample), rng
        )
        tokenized = iter(tokenize_joined([t for texts in kept for t in texts], data.workers, tokenizer))
        for label in range(classes):
            candidates = [s for s in (next(tokenized) for _ in kept[label]) if low <= length(s) <= high]
            dropped["length"] += len(kept[label]) - len(candidates)
            if len(candidates) < need:
                raise CorpusTooSmall(
                    f"{raw / f'{pool}.csv'}: class {label + 1} has {len(candidates)} sentences of "
                    f"{low}-{high} tokens among {len(kept[label])} sampled of {seen[label]}, "
                    f"but {' + '.join(f'{getattr(per_class, s)} {s}' for s in pool_splits)} = {need} are needed"
                )
            order = rng.permutation(len(candidates))[:need]
            start = 0
            for split in pool_splits:
                chosen = order[start : start + getattr(per_class, split)]
                splits[split][0].extend(candidates[i] for i in chosen)
                splits[split][1].extend([label] * len(chosen))
                start += getattr(per_class, split)
    return splits


def read_presplit(raw: Path, data, dropped: Counter):
    """Authors' or local splits: lines are already tokenised (split on white space). The
    authors' splits are kept as released; a `local` corpus gets the rules of the raw corpora:
    non-ASCII characters removed, then empty sentences and sentences outside
    [min_length, max_length] tokens dropped (counted in `dropped`). Every class must appear in
    every split, and there must be at least 2."""
    kind = CORPORA[data.corpus]
    named = raw / "classes.txt"
    shown = kind.source(raw, data)
    classes = len(read_lines(named, shown=shown / named.name)) if named.exists() else None
    splits = {split: read_split(raw, split, classes, shown) for split in SPLITS}
    if classes is None:
        classes = 1 + max((max(labels) for _, labels in splits.values() if labels), default=-1)
    for split, (sentences, labels) in splits.items():
        if kind.user_text:
            kept = []
            for sentence, label in zip(sentences, labels):
                tokens = sentence.encode("ascii", errors="ignore").decode().split()
                if not tokens:
                    dropped["empty"] += 1
                elif not data.min_length <= len(tokens) <= data.max_length:
                    dropped["length"] += 1
                else:
                    kept.append((" ".join(tokens), label))
            sentences, labels = [s for s, _ in kept], [label for _, label in kept]
        else:
            sentences = [" ".join(line.split()) for line in sentences]
        missing = sorted(set(range(classes)) - set(labels))
        if missing:
            raise InputError(f"{shown / f'{split}_class_label.txt'}: no sentence of class {missing[0]} "
                             f"(of {classes}) in the {split} split{' after the length limits' if kind.user_text else ''}")
        splits[split] = (sentences, labels)
    if classes < 2:
        raise InputError(f"{shown / 'train_class_label.txt'}: {classes} class; a classification corpus needs at least 2")
    return splits, classes


def preprocess(raw: Path, out: Path, data, seed: int):
    """Write out/{split}.npz (tokens, offsets, labels), out/{split}.txt, out/vocab.txt,
    out/classes.txt; return the statistics of the paper's Table 2."""
    stats = {"dropped": Counter()}
    kind = CORPORA[data.corpus]
    if kind.layout == "csv":
        classes = len((raw / "classes.txt").read_text().split())
        splits = sample_csv(raw, data, seed, kind.text_column, classes, stats)
    else:
        splits, classes = read_presplit(raw, data, stats["dropped"])
    train_tokens = all_tokens(splits["train"][0])
    if (raw / "vocab.txt").exists():
        listed = [w for w in read_vocab_file(raw / "vocab.txt", kind.source(raw, data) / "vocab.txt")
                  if w not in UNK_MARKERS]
        vocab = Vocabulary(listed[: data.vocab_size])
    else:
        vocab = Vocabulary.from_counts(Counter(train_tokens), data.vocab_size)
    names = (raw / "classes.txt").read_text().split() if (raw / "classes.txt").exists() else []
    if len(names) != classes:
        names = [f"class_{i}" for i in range(classes)]

    out.mkdir(parents=True, exist_ok=True)
    vocab.save(out / "vocab.txt")
    (out / "classes.txt").write_text("\n".join(names) + "\n")
    summary = {"classes": classes, "vocabulary": len(vocab) - len(SPECIALS), "splits": {}}
    for split, (sentences, labels) in splits.items():
        ids = vocab.encode(train_tokens if split == "train" else all_tokens(sentences))
        lengths = np.fromiter(map(length, sentences), dtype=np.int64, count=len(sentences))
        np.savez(out / f"{split}.npz", tokens=ids, offsets=np.concatenate([[0], np.cumsum(lengths)]),
                 labels=np.array(labels, dtype=np.int64))
        (out / f"{split}.txt").write_text("\n".join(sentences) + "\n", encoding="utf-8")
        unk_rate = float((ids == UNK).sum() / max(lengths.sum(), 1))
        if unk_rate > MAX_UNK_RATE:
            shown = kind.source(raw, data)
            raise InputError(f"{shown / f'{split}.txt'}: {unk_rate:.0%} of its words are not in the vocabulary "
                             f"(more than {MAX_UNK_RATE:.0%}); check vocab.txt (one word per line) or data.vocab_size")
        summary["splits"][split] = {
            "sentences": len(sentences),
            "min_length": int(lengths.min()) if len(sentences) else 0,
            "mean_length": round(float(lengths.mean()), 2) if len(sentences) else 0.0,
            "max_length": int(lengths.max()) if len(sentences) else 0,
            "unk_rate": round(unk_rate, 4),
            "per_class": {names[c]: int(n) for c, n in zip(*np.unique(labels, return_counts=True))},
        }
    summary["dropped"] = dict(stats["dropped"])
    return summary
