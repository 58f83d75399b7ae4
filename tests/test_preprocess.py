import csv
import hashlib
from pathlib import Path

import numpy as np
import pytest

from hsvae.analysis.metrics import class_word_distributions, mean_off_diagonal, pairwise_kl
from hsvae.data.corpora import CORPORA, CsvCorpus, download
from hsvae.data.preprocess import (
    CorpusTooSmall,
    Tokenizer,
    clean,
    preprocess,
    tokenize,
    tokenize_joined,
)
from hsvae.data.splits import Split
from hsvae.data.synthetic import SyntheticCorpus
from hsvae.data.vocabulary import SPECIALS, UNK, Vocabulary
from tests.pipeline_utils import data_settings

DATA = data_settings({
    "corpus": "synthetic", "local_dir": "", "per_class": {"train": 30, "valid": 5, "test": 6},
    "min_length": 1, "max_length": 60, "vocab_size": 300, "oversample": 1.5, "workers": 2,
    "synthetic": {"classes": 4, "signal": 0.6, "background_vocab": 200, "topic_words": 20, "mean_phrases": [1.5, 4.0]},
})


def with_data(**changes):
    return data_settings({**vars(DATA), **changes})


def test_cleaning_rules():
    assert clean('He said "hello" to ``them\'\' at http://x.org/a?b=1 and www.y.com .') == "He said hello to them at and ."
    assert clean("Caf\u00e9 na\u00efve \u2014 ok") == "Caf nave ok"
    assert clean("don't") == "don't"  # apostrophes are not quotation marks


def test_clean_matches_its_regular_expression_definition():
    # The fast string-method cleaning against the rules written as regular expressions.
    import random
    import re

    def reference(text):
        text = re.sub(r"(?:https?://|ftp://|www\.)\S+", " ", text, flags=re.IGNORECASE)
        text = re.sub(r"\"|``|''|`", " ", text.encode("ascii", "ignore").decode("ascii"))
        return re.sub(r"\s+", " ", text).strip()

    pieces = list("ab W.:/'\"`\t\n\x1c\r") + ["http://", "HTTPS://", "ftp://", "www.", "wWw.", "\u00e9", "\u00a0", "''"]
    rng = random.Random(0)
    for _ in range(20_000):
        text = "".join(rng.choice(pieces) for _ in range(rng.randint(0, 20)))
        assert clean(text) == reference(text), repr(text)


def test_tokenize_lowercases_with_spacy():
    assert tokenize(["The U.K. isn't BIG."]) == [["the", "u.k.", "is", "n't", "big", "."]]


def test_memoised_tokenizer_gives_spacys_tokens():
    import spacy

    nlp = spacy.blank("en")
    texts = ["The U.K. isn't BIG.", "(don't) stop: a.m. 10km $5.00 e-mail ... :) U.S.A.'s", "Dr. Smith's cat-dog (1999).",
             "gonna wanna can't won't ain't y'all", "3/4 of 12,000 km/h; e.g. etc. vs. Mr. -- hello--world!!",
             "I'm here.", "im youre dont", "'Hello' she said, 'it's 5 o'clock'.", "(a.) [b] {c}"] * 2
    tokenizer = Tokenizer()
    for text in texts:  # twice each: the second pass comes from the memo
        expected = [t.lower_ for t in nlp.tokenizer(clean(text))]
        assert tokenizer(text).split(" ") == expected, text
    assert len(tokenizer.memo) == len({chunk for text in texts for chunk in clean(text).split(" ")})


def test_worker_processes_give_the_same_sentences_in_order():
    texts = [f"Sentence {i}: it's No. {i % 7}, isn't it?" for i in range(500)]
    alone = tokenize_joined(texts, 1, Tokenizer())
    assert tokenize_joined(texts, 2, Tokenizer(), chunk=64) == alone
    assert alone[3] == "sentence 3 : it 's no . 3 , is n't it ?"


def test_vocabulary_cap_specials_and_ties():
    from collections import Counter

    vocab = Vocabulary.from_counts(Counter({"b": 3, "a": 3, "c": 1, "_UNK": 9, "<pad>": 2}), size=2)
    assert vocab.words == [*SPECIALS, "a", "b"]
    assert vocab.encode(["b", "zzz", "a"]).tolist() == [4, UNK, 3]


def run_preprocess(tmp_path, data=DATA, seed=0, name="out"):
    raw, out = tmp_path / f"raw-{name}", tmp_path / name
    download(data, seed, raw, tmp_path / "cache")
    return preprocess(raw, out, data, seed), out


def test_exact_per_class_counts_disjoint_splits_and_stats(tmp_path):
    stats, out = run_preprocess(tmp_path)
    texts = {s: (out / f"{s}.txt").read_text().splitlines() for s in ("train", "valid", "test")}
    for split, per in vars(DATA.per_class).items():
        labels = Split(out, split).labels
        assert np.bincount(labels).tolist() == [per] * 4
        assert stats["splits"][split]["sentences"] == 4 * per
    train_rows = set(zip(texts["train"], Split(out, "train").labels))
    assert not train_rows & set(zip(texts["valid"], Split(out, "valid").labels))
    assert stats["vocabulary"] == len((out / "vocab.txt").read_text().splitlines()) - 3
    assert stats["classes"] == 4
    lengths = Split(out, "train").lengths
    assert stats["splits"]["train"]["max_length"] == lengths.max()
    assert stats["splits"]["train"]["mean_length"] == pytest.approx(lengths.mean(), abs=0.01)


def test_vocabulary_comes_from_train_and_is_capped(tmp_path):
    data = with_data(vocab_size=25)
    _, out = run_preprocess(tmp_path, data)
    words = (out / "vocab.txt").read_text().splitlines()
    assert words[:3] == list(SPECIALS) and len(words) == 28
    train = Split(out, "train")
    assert max(max(s) for s in train.sentences) == 27
    assert any((s == UNK).any() for s in train.sentences)


def test_same_seed_same_bytes_other_seed_other_sample(tmp_path):
    _, a = run_preprocess(tmp_path, name="a")
    _, b = run_preprocess(tmp_path, name="b")
    _, c = run_preprocess(tmp_path, seed=1, name="c")
    digest = lambda folder: {f.name: hashlib.sha256(f.read_bytes()).hexdigest() for f in sorted(folder.iterdir())}  # noqa: E731
    assert digest(a) == digest(b)
    assert digest(a)["train.npz"] != digest(c)["train.npz"]


def test_a_class_too_small_is_named(tmp_path, monkeypatch):
    raw = tmp_path / "raw"
    raw.mkdir()
    rows = [[1, "a short sentence"]] * 10 + [[2, "another one here"]] * 3
    for split in ("train", "test"):
        with open(raw / f"{split}.csv", "w", newline="") as f:
            csv.writer(f).writerows(rows)
    (raw / "classes.txt").write_text("first\nsecond\n")
    data = with_data(corpus="two_csv", per_class={"train": 3, "valid": 1, "test": 1})
    monkeypatch.setitem(CORPORA, "two_csv", CsvCorpus("x", text_column=1, classes=2, rows={}))
    with pytest.raises(CorpusTooSmall, match=r"class 2 has 3 sentences .* 3 train \+ 1 valid = 4 are needed"):
        preprocess(raw, tmp_path / "out", data, 0)


def test_bad_csv_rows_are_dropped_and_counted(tmp_path, monkeypatch):
    raw = tmp_path / "raw"
    raw.mkdir()
    good = [[1, "t", "one good sentence"], [2, "t", "two good sentence"]] * 4
    bad = [[3, "t", "label out of range"], ["x", "t", "not a label"], [1, "t"]]
    for split in ("train", "test"):
        with open(raw / f"{split}.csv", "w", newline="") as f:
            csv.writer(f).writerows(good + bad)
        with open(raw / f"{split}.csv", "ab") as f:
            f.write(b'1,"t","bytes \xff\xfe not utf-8"\n')
    (raw / "classes.txt").write_text("a\nb\n")
    data = with_data(corpus="two_csv", per_class={"train": 2, "valid": 1, "test": 2})
    monkeypatch.setitem(CORPORA, "two_csv", CsvCorpus("x", text_column=2, classes=2, rows={}))
    stats = preprocess(raw, tmp_path / "out", data, 0)
    assert stats["dropped"] == {"bad_label": 4, "missing_field": 2, "length": 0}


def test_presplit_corpus_keeps_its_splits_and_vocabulary(tmp_path):
    local = tmp_path / "mine"
    local.mkdir()
    for split, n in (("train", 6), ("valid", 2), ("test", 2)):
        (local / f"{split}.txt").write_text("\n".join(f"the _UNK river {i}" for i in range(n)) + "\n")
        (local / f"{split}_class_label.txt").write_text("\n".join(str(i % 2) for i in range(n)) + "\n")
    (local / "vocab.txt").write_text("the\nriver\n_UNK\n")
    data = with_data(corpus="local", local_dir=str(local))
    stats, out = run_preprocess(tmp_path, data)
    assert (out / "vocab.txt").read_text().splitlines() == [*SPECIALS, "the", "river"]
    assert Split(out, "train").sentences[0].tolist() == [3, UNK, 4, UNK]
    assert stats["splits"]["valid"]["sentences"] == 2


def test_local_corpus_without_train_is_a_clear_error(tmp_path):
    for split in ("valid", "test"):
        (tmp_path / f"{split}.txt").write_text("x\n")
        (tmp_path / f"{split}_class_label.txt").write_text("0\n")
    with pytest.raises(FileNotFoundError, match="lacks train.txt, train_class_label.txt"):
        download(with_data(corpus="local", local_dir=str(tmp_path)), 0, tmp_path / "raw", tmp_path / "c")


@pytest.mark.skipif(not Path("../shared/data/hsvae-dbpedia/valid.txt").exists(), reason="needs ../shared")
def test_authors_dbpedia_text_reads_as_a_local_corpus(tmp_path):
    shared = Path("../shared/data/hsvae-dbpedia")
    local = tmp_path / "dbp"
    local.mkdir()
    for split, source in (("train", "valid"), ("valid", "test"), ("test", "test")):
        (local / f"{split}.txt").write_bytes((shared / f"{source}.txt").read_bytes())
        (local / f"{split}_class_label.txt").write_bytes((shared / f"{source}_class_label.txt").read_bytes())
    (local / "vocab.txt").write_bytes((shared / "vocab.txt").read_bytes())
    stats, out = run_preprocess(tmp_path, with_data(corpus="local", local_dir=str(local), vocab_size=20000))
    assert stats["classes"] == 14 and stats["splits"]["train"]["sentences"] == 14000
    assert stats["vocabulary"] == 19999  # the authors' 20,000 words less their _UNK marker
    assert 1 <= stats["splits"]["train"]["min_length"] and stats["splits"]["train"]["max_length"] <= 62
    assert 30 < stats["splits"]["train"]["mean_length"] < 40  # Table 2: average 35


def test_synthetic_signal_sets_class_divergence():
    rng = np.random.default_rng(0)
    kl = []
    for signal in (0.1, 0.5, 0.9):
        corpus = SyntheticCorpus(classes=4, signal=signal, background_vocab=300, topic_words=20, seed=0)
        rows = list(corpus.sentences(200, rng))
        words = sorted({w for _, t in rows for w in t.split()})
        index = {w: i for i, w in enumerate(words)}
        ids = [np.array([index[w] for w in t.split()]) for _, t in rows]
        kl.append(mean_off_diagonal(pairwise_kl(class_word_distributions(ids, [label for label, _ in rows], 4, len(words)))))
    assert kl[0] < kl[1] < kl[2]
    assert kl[2] > 3 * kl[0]


def test_synthetic_corpus_is_deterministic_and_class_lengths_differ():
    a = list(SyntheticCorpus(seed=3).sentences(50, np.random.default_rng(0)))
    b = list(SyntheticCorpus(seed=3).sentences(50, np.random.default_rng(0)))
    assert a == b
    mean_length = [np.mean([len(t.split()) for label, t in a if label == c]) for c in range(10)]
    assert max(mean_length) > 1.5 * min(mean_length)
