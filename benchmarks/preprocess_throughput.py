"""Preprocess throughput at DBpedia scale: 14 classes x 12,000 sentences (11,000 per class in
train.csv for the 10,000 train + 1,000 valid, 1,000 in test.csv), end to end and for the
spaCy tokenizer alone (one process, no lower-casing), the pipeline's memoised tokenizer in one
process (cleaning, tokenising, lower-casing), with the peak memory of the process.

    python benchmarks/preprocess_throughput.py [--text-dir ../shared/data/hsvae-dbpedia]

Text: the authors' DBpedia sentences (real lengths and vocabulary), cycled to the needed
count; synthetic text when the folder is absent."""
import argparse
import csv
import resource
import tempfile
import time
from pathlib import Path

import numpy as np

from benchmarks import report
from hsvae.data.preprocess import Tokenizer, clean, preprocess
from hsvae.data.synthetic import SyntheticCorpus

SHARED = Path(__file__).resolve().parents[1] / ".." / "shared" / "data" / "hsvae-dbpedia"
CLASSES, TRAIN_POOL, TEST_POOL = 14, 11_000, 1_000


def texts(folder: Path, n: int):
    if folder.exists():
        lines = (folder / "valid.txt").read_text().splitlines() + (folder / "test.txt").read_text().splitlines()
        source = "hsvae-dbpedia valid+test"
    else:
        corpus = SyntheticCorpus(classes=CLASSES, mean_phrases=(4.0, 8.0))
        lines = [t for _, t in corpus.sentences(2_000, np.random.default_rng(0))]
        source = "synthetic"
    return [lines[i % len(lines)] for i in range(n)], source


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--text-dir", type=Path, default=SHARED)
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    pool, source = texts(args.text_dir, CLASSES * (TRAIN_POOL + TEST_POOL))
    data = {"corpus": "dbpedia", "per_class": {"train": 10_000, "valid": 1_000, "test": 1_000}, "min_length": 1,
            "max_length": 200, "vocab_size": 20_000, "oversample": 1.0, "workers": 2}
    results = {"sentences": len(pool), "text": source}
    with tempfile.TemporaryDirectory() as tmp:
        raw = Path(tmp) / "raw"
        raw.mkdir()
        rows = iter(pool)
        for split, per_class in (("train", TRAIN_POOL), ("test", TEST_POOL)):
            with open(raw / f"{split}.csv", "w", newline="") as f:
                writer = csv.writer(f, quoting=csv.QUOTE_ALL)
                for i in range(per_class * CLASSES):
                    writer.writerow([i % CLASSES + 1, "title", next(rows)])
        (raw / "classes.txt").write_text("\n".join(f"c{i}" for i in range(CLASSES)) + "\n")
        start = time.perf_counter()
        preprocess(raw, Path(tmp) / "out", data, 0)
        results["end_to_end_sentences_per_s"] = len(pool) / (time.perf_counter() - start)
        cleaned = [clean(t) for t in pool]
        tokenizer = Tokenizer()
        start = time.perf_counter()
        for _ in tokenizer.spacy.pipe(cleaned, batch_size=2000):
            pass
        results["spacy_tokenizer_alone_sentences_per_s"] = len(pool) / (time.perf_counter() - start)
        # The memo's first pass over distinct text (cold), then the whole cycled pool.
        distinct = list(dict.fromkeys(pool))
        start = time.perf_counter()
        for text in distinct:
            tokenizer(text)
        results["one_process_cold_memo_distinct_sentences_per_s"] = len(distinct) / (time.perf_counter() - start)
        chunks = [c for text in cleaned[: len(distinct)] for c in text.split(" ")]
        results["distinct_chunk_share"] = len(set(chunks)) / len(chunks)
        tokenizer = Tokenizer()
        start = time.perf_counter()
        for text in pool:
            tokenizer(text)
        results["one_process_clean_tokenize_lower_sentences_per_s"] = len(pool) / (time.perf_counter() - start)
    results["peak_rss_mib"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    report(results, args.out)


if __name__ == "__main__":
    main()
