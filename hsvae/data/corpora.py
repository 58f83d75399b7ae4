"""The corpora `data.corpus` can name, where each comes from, and how its raw files read.

After the download stage, `data/raw` holds one of two layouts:
- "csv": train.csv and test.csv (class 1-based in the first column, Zhang et al. 2015) and
  classes.txt; the preprocess stage cleans, tokenises and samples them;
- "split": {train,valid,test}.txt (one tokenised sentence per line), {split}_class_label.txt
  (a 0-based class per line) and optionally vocab.txt; splits are kept as they are.
"""
import csv
import sys
from abc import ABC, abstractmethod
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from hsvae.data.download import DownloadError, check_archive, copy_file, extract_tar, fetch, git_blob_id
from hsvae.data.synthetic import SyntheticCorpus
from hsvae.core.errors import InputError, MissingInput

AUTHORS_URL = "https://raw.githubusercontent.com/VictorProkhorov/HSVAE/master/Data/{folder}/{file}"
ZHANG_URL = "https://s3.amazonaws.com/fast-ai-nlp/{archive}.tgz"
SPLITS = ("train", "valid", "test")
SPLIT_FILES = tuple(f"{s}{suffix}" for s in SPLITS for suffix in (".txt", "_class_label.txt"))


class Corpus(ABC):
    """A kind of corpus: where its files come from (`fill` writes them into data/raw, `check`
    refuses a missing or wrong source before any stage runs) and how they read (`layout`;
    `user_text`: lines cleaned and length-limited as raw text are; `source`: the folder errors
    name, the user's own where the files are copies)."""
    layout = "split"
    user_text = False

    @abstractmethod
    def fill(self, data, seed: int, raw: Path, cache: Path, url_base: dict):
        """Write the corpus's raw files into the folder `raw` (downloads through `cache`)."""

    def check(self, data):
        """What this machine must hold for the corpus (nothing to check by default)."""

    def source(self, raw: Path, data) -> Path:
        return raw


class Synthetic(Corpus):
    """The embedded corpus (`data.synthetic`), written as Zhang-style CSVs: no network."""
    layout, text_column = "csv", 1

    def fill(self, data, seed, raw, cache, url_base):
        write_synthetic(data, seed, raw)


class Local(Corpus):
    """The user's own split files in `data.local_dir` (data/local/README.md)."""
    user_text = True

    def fill(self, data, seed, raw, cache, url_base):
        source = Path(data.local_dir)
        check_local_dir(source)
        raw.mkdir(parents=True, exist_ok=True)
        for file in SPLIT_FILES + ("vocab.txt", "classes.txt"):
            if (source / file).is_file():
                copy_file(source / file, raw / file)

    def check(self, data):
        check_local_dir(Path(data.local_dir))

    def source(self, raw, data):
        return Path(data.local_dir)


@dataclass(frozen=True)
class CsvCorpus(Corpus):
    """A Zhang et al. (2015) archive; `text_column` is the column the paper's sentences come from."""
    archive: str
    text_column: int
    classes: int
    rows: dict
    layout: str = "csv"

    def fill(self, data, seed, raw, cache, url_base):
        archive = fetch(url_base.get("zhang", ZHANG_URL).format(archive=self.archive), cache / f"{self.archive}.tgz",
                        verify=check_archive)
        extracted = extract_tar(archive, cache / self.archive)
        raw.mkdir(parents=True, exist_ok=True)
        for file in ("train.csv", "test.csv", "classes.txt"):
            source = extracted / self.archive / file
            if source.exists():
                copy_file(source, raw / file)
        verify_counts(raw, self, archive)


@dataclass(frozen=True)
class SplitCorpus(Corpus):
    """The paper authors' preprocessed splits, each file checked against its git blob id, from
    their repository or from `data.source_dir`. `resplit`: only their validation and test
    splits are used (see released_splits); `class_names`: the names of their 0-based labels,
    where known."""
    folder: str
    blob_ids: dict = field(default_factory=dict)
    layout: str = "split"
    resplit: bool = False
    class_names: tuple = ()

    def fill(self, data, seed, raw, cache, url_base):
        if data.source_dir:  # offline: the user's copy of the files, verified as a download is
            source = Path(data.source_dir)
            check_source_dir(source, self)
            files = {file: source / file for file in self.blob_ids}
        else:
            pattern = url_base.get("authors", AUTHORS_URL)
            files = {file: fetch(pattern.format(folder=self.folder, file=file), cache / self.folder / file, blob_id)
                     for file, blob_id in self.blob_ids.items()}
        raw.mkdir(parents=True, exist_ok=True)
        if self.resplit:
            released_splits(files, raw)
        else:
            for file, path in files.items():
                copy_file(path, raw / file)
        if self.class_names:
            (raw / "classes.txt").write_text("\n".join(self.class_names) + "\n")

    def check(self, data):
        if data.source_dir:
            check_source_dir(Path(data.source_dir), self)


# The authors' DBpedia labels number Zhang et al.'s (2015) classes in their order (a sentence
# per class read against each name agrees: docs/paper-vs-repository.md).
DBPEDIA_CLASSES = ("Company", "EducationalInstitution", "Artist", "Athlete", "OfficeHolder", "MeanOfTransportation",
                   "Building", "NaturalPlace", "Village", "Animal", "Plant", "Album", "Film", "WrittenWork")


CORPORA = {
    "synthetic": Synthetic(),
    "local": Local(),
    "dbpedia": CsvCorpus("dbpedia_csv", text_column=2, classes=14, rows={"train": 560_000, "test": 70_000}),
    "yahoo": CsvCorpus("yahoo_answers_csv", text_column=1, classes=10, rows={"train": 1_400_000, "test": 60_000}),
    "yelp": CsvCorpus("yelp_review_full_csv", text_column=1, classes=5, rows={"train": 650_000, "test": 50_000}),
    "hsvae-dbpedia": SplitCorpus("New_DBPedia", {
        "train.txt": "ed1e3fc01b05f9d33c7179ce8f07c6c66b9dd56a",
        "train_class_label.txt": "80984023eb204536669dca57d28ff50dee187547",
        "valid.txt": "b4d70977a8dfd196e116e7033b4bcc838b34c6fb",
        "valid_class_label.txt": "af848db53e62dfc8b9a7ec4e7d8509de3fe059b8",
        "test.txt": "2ebafdffff0e80e6cf0a4eda3ce5b86500b9085b",
        "test_class_label.txt": "af848db53e62dfc8b9a7ec4e7d8509de3fe059b8",
        "vocab.txt": "24967b5781d8e12df803ba5ac0335b2c3d570bc9",
    }, class_names=DBPEDIA_CLASSES),
    # The files the authors' DBpedia splits share with hsvae-dbpedia, all but the 140,000-sentence train.txt
    "hsvae-dbpedia-released": SplitCorpus("New_DBPedia", {
        "valid.txt": "b4d70977a8dfd196e116e7033b4bcc838b34c6fb",
        "valid_class_label.txt": "af848db53e62dfc8b9a7ec4e7d8509de3fe059b8",
        "test.txt": "2ebafdffff0e80e6cf0a4eda3ce5b86500b9085b",
        "test_class_label.txt": "af848db53e62dfc8b9a7ec4e7d8509de3fe059b8",
        "vocab.txt": "24967b5781d8e12df803ba5ac0335b2c3d570bc9",
    }, resplit=True, class_names=DBPEDIA_CLASSES),
    "hsvae-yahoo": SplitCorpus("New_Yahoo", {
        "train.txt": "d2aafbc640f48d0c90fbe3318c59812c92782484",
        "train_class_label.txt": "1f5017b4c02b95c77e08cd60ca387d01328c8bfc",
        "valid.txt": "88fa017b4e4b3fc3198fdbb2ce48b9abf914d16a",
        "valid_class_label.txt": "464f12c12d717b7a5be3f092159fee06c3fbf86a",
        "test.txt": "2bb7ad12f719273b339220d1d230f0101160ee90",
        "test_class_label.txt": "0d53799534812cb17b2b1aff633d403af0ebbd0f",
        "vocab.txt": "cdf5f00e0db39ace346d0ffaddd2372dbe7cc619",
    }),
}


def download(data, seed: int, raw: Path, cache: Path, url_base: dict | None = None):
    """Fill the folder `raw` for the corpus `data.corpus` (the data settings). Downloads go through `cache`
    (kept between runs, so an interrupted download resumes). `url_base` overrides the
    public URLs (tests serve files on 127.0.0.1)."""
    CORPORA[data.corpus].fill(data, seed, raw, cache, url_base or {})


def check_source_dir(source: Path, spec: SplitCorpus):
    """data.source_dir holds every file of the corpus, each with its released git blob id."""
    if not source.is_dir():
        raise MissingInput(f"data.source_dir: {source} is not a folder")
    missing = [f for f in spec.blob_ids if not (source / f).is_file()]
    if missing:
        raise MissingInput(f"data.source_dir: {source} lacks {', '.join(missing)} (the authors' {spec.folder} files)")
    for file, blob_id in spec.blob_ids.items():
        got = git_blob_id(source / file)
        if got != blob_id:
            raise InputError(f"data.source_dir: {source / file}: git blob id {got}, expected {blob_id} "
                             f"(the authors' released {spec.folder}/{file})")


def released_splits(files: dict, raw: Path):
    """The splits of a corpus whose training file is not used: training = the released
    validation split; validation and test = the released test split halved within each class
    (of each class's sentences in file order, the first half, rounded down, is validation and
    the rest test). Lines are copied byte for byte."""
    copy_file(files["valid.txt"], raw / "train.txt")
    copy_file(files["valid_class_label.txt"], raw / "train_class_label.txt")
    sentences = files["test.txt"].read_bytes().split(b"\n")[:-1]
    labels = files["test_class_label.txt"].read_bytes().split(b"\n")[:-1]
    if len(sentences) != len(labels):
        raise InputError(f"{files['test.txt']}: {len(sentences)} sentences but {files['test_class_label.txt']} "
                         f"has {len(labels)} labels")
    by_class = {}
    for index, label in enumerate(labels):
        by_class.setdefault(label.strip(), []).append(index)
    halves = {"valid": [], "test": []}
    for indices in by_class.values():
        half = len(indices) // 2
        halves["valid"] += indices[:half]
        halves["test"] += indices[half:]
    for split, indices in halves.items():
        indices.sort()  # file order, classes interleaved as released
        for suffix, lines in ((".txt", sentences), ("_class_label.txt", labels)):
            (raw / f"{split}{suffix}").write_bytes(b"".join(lines[i] + b"\n" for i in indices))
    copy_file(files["vocab.txt"], raw / "vocab.txt")


def verify_counts(raw: Path, spec: CsvCorpus, archive: Path):
    """No checksums are published for the Zhang archives: check rows and classes instead."""
    for split, expected in spec.rows.items():
        with open(raw / f"{split}.csv", newline="", encoding="utf-8", errors="replace") as f:
            counts = Counter(row[0] for row in csv_rows(f) if row)
        rows = sum(counts.values())
        if rows != expected or len(counts) != spec.classes:
            raise DownloadError(
                f"{archive}: {spec.archive}/{split}.csv: expected {expected} rows in {spec.classes} classes, "
                f"found {rows} rows in {len(counts)} classes"
            )


def write_synthetic(data, seed: int, raw: Path):
    """The synthetic corpus as Zhang-style CSVs, with a margin over the per-class counts so the
    length limits can drop a few sentences."""
    synthetic = data.synthetic
    corpus = SyntheticCorpus(synthetic.classes, synthetic.signal, synthetic.background_vocab, synthetic.topic_words,
                             synthetic.mean_phrases, seed)
    rng = np.random.default_rng(seed + 1)
    per_class = data.per_class
    raw.mkdir(parents=True, exist_ok=True)
    pools = {"train": per_class.train + per_class.valid, "test": per_class.test}
    for pool, count in pools.items():
        with open(raw / f"{pool}.csv", "w", newline="") as f:
            writer = csv.writer(f)
            for label, text in corpus.sentences(int(count * 1.25) + 5, rng):
                writer.writerow([label + 1, text])
    (raw / "classes.txt").write_text("\n".join(corpus.class_names) + "\n")


def check_local_dir(source: Path):
    """The folder of a `local` corpus holds the split files."""
    if not source.is_dir():
        raise MissingInput(f"data.local_dir: {source} is not a folder")
    missing = [f for f in SPLIT_FILES if not (source / f).is_file()]
    if missing:
        raise MissingInput(
            f"data.local_dir: {source} lacks {', '.join(missing)}; a local corpus needs "
            "{train,valid,test}.txt with one sentence per line and {split}_class_label.txt with one 0-based class per line"
        )


def csv_rows(f):
    """A CSV file's rows; Zhang's archives hold texts longer than the csv module's default field
    limit (131,072 characters), which is raised here, where CSV is read, not on import."""
    csv.field_size_limit(sys.maxsize)
    return csv.reader(f)


def read_csv(path: Path, text_column: int, classes: int, dropped: Counter):
    """Stream (label, text) from a Zhang-style CSV; rows with missing fields, a label that is
    not an integer in 1..classes or an empty text are counted in `dropped` and skipped.
    Undecodable bytes become U+FFFD, which cleaning removes with the other non-ASCII."""
    with open(path, newline="", encoding="utf-8", errors="replace") as f:
        for row in csv_rows(f):
            if len(row) <= text_column:
                dropped["missing_field"] += 1
                continue
            try:
                label = int(row[0]) - 1
            except ValueError:
                label = -1
            if not 0 <= label < classes:
                dropped["bad_label"] += 1
                continue
            yield label, row[text_column]


def read_lines(path: Path, errors="strict", shown: Path | None = None) -> list:
    """The lines of a text file, split at "\n" only (a form feed or other Unicode line break
    inside a line is not a new line, as for `wc -l`); non-UTF-8 bytes name the file and line
    (as `shown`: the user's file of which `path` is a copy)."""
    data = path.read_bytes()
    try:
        text = data.decode("utf-8", errors=errors)
    except UnicodeDecodeError as error:
        line = data[: error.start].count(b"\n") + 1
        raise InputError(f"{shown or path}, line {line}: not UTF-8 text (byte {data[error.start]:#04x})") from None
    lines = text.split("\n")
    return lines[:-1] if lines and lines[-1] == "" else lines


def read_split(raw: Path, split: str, classes: int | None = None, shown: Path | None = None):
    """Sentences and labels of a pre-split corpus; labels must be integers in 0..classes-1.
    Errors name the files in `shown` (the user's folder of which `raw` is a copy)."""
    shown = shown or raw
    text_path, label_path = shown / f"{split}.txt", shown / f"{split}_class_label.txt"
    sentences = read_lines(raw / text_path.name, errors="replace")  # undecodable text bytes become U+FFFD
    labels = []
    for number, line in enumerate(read_lines(raw / label_path.name, shown=label_path), 1):
        value = line.strip()
        try:
            label = int(value)
        except ValueError:
            raise InputError(f"{label_path}, line {number}: {value!r} is not an integer class") from None
        if label < 0 or (classes is not None and label >= classes):
            allowed = f"0..{classes - 1} (classes.txt names {classes})" if classes is not None else "0 or more"
            raise InputError(f"{label_path}, line {number}: class {label} is outside {allowed}")
        labels.append(label)
    if len(sentences) != len(labels):
        raise InputError(f"{text_path}: {len(sentences)} sentences but {label_path} has {len(labels)} labels")
    return sentences, labels
