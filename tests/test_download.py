"""The download code against an HTTP server on 127.0.0.1 that the tests start."""
import hashlib
import http.server
import io
import socket
import tarfile
import threading
from pathlib import Path

import pytest

from hsvae.data.corpora import CORPORA, download
from hsvae.data.download import DownloadError, extract_tar, fetch, git_blob_id
from hsvae.core.errors import UserError
from hsvae.data.settings import DataSettings
from tests.pipeline_utils import ROOT, data_settings

PAYLOAD = bytes(range(256)) * 400  # 102,400 bytes


class Handler(http.server.BaseHTTPRequestHandler):
    files = {}
    cut_after = None  # bytes sent before the connection is dropped, on the next full request
    no_length = False  # send no Content-Length (then a cut stream looks complete to the client)
    requests = []

    def log_message(self, *args):
        pass

    def do_GET(self):
        body = self.files.get(self.path)
        Handler.requests.append((self.path, self.headers.get("Range")))
        if body is None:
            self.send_error(404)
            return
        start = 0
        if self.headers.get("Range"):
            start = int(self.headers["Range"].split("=")[1].rstrip("-"))
            self.send_response(206)
            self.send_header("Content-Range", f"bytes {start}-{len(body) - 1}/{len(body)}")
        else:
            self.send_response(200)
        if not Handler.no_length:
            self.send_header("Content-Length", str(len(body) - start))
        self.end_headers()
        if Handler.cut_after is not None and start == 0:
            self.wfile.write(body[: Handler.cut_after])
            self.wfile.flush()
            Handler.cut_after = None
            self.connection.shutdown(socket.SHUT_RDWR)
            return
        self.wfile.write(body[start:])


@pytest.fixture
def server():
    Handler.files, Handler.cut_after, Handler.no_length, Handler.requests = {}, None, False, []
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


def blob_id(data: bytes) -> str:
    return hashlib.sha1(f"blob {len(data)}\0".encode() + data).hexdigest()


def test_fetch_happy_path_verifies_blob_id(server, tmp_path):
    Handler.files["/f.bin"] = PAYLOAD
    got = fetch(f"{server}/f.bin", tmp_path / "f.bin", blob_id(PAYLOAD))
    assert got.read_bytes() == PAYLOAD
    assert git_blob_id(got) == blob_id(PAYLOAD)
    assert list(tmp_path.iterdir()) == [got]


def test_fetch_resumes_after_a_cut_connection(server, tmp_path):
    Handler.files["/f.bin"] = PAYLOAD
    Handler.cut_after = 40_000
    with pytest.raises(DownloadError, match="run again to resume"):
        fetch(f"{server}/f.bin", tmp_path / "f.bin", timeout=5)
    assert not (tmp_path / "f.bin").exists()
    assert (tmp_path / "f.bin.part").stat().st_size == 40_000
    got = fetch(f"{server}/f.bin", tmp_path / "f.bin", blob_id(PAYLOAD))
    assert got.read_bytes() == PAYLOAD
    assert Handler.requests[-1] == ("/f.bin", "bytes=40000-")


def test_checksum_mismatch_leaves_nothing(server, tmp_path):
    Handler.files["/f.bin"] = PAYLOAD
    with pytest.raises(DownloadError, match="does not match the expected 0000"):
        fetch(f"{server}/f.bin", tmp_path / "f.bin", "0" * 40)
    assert list(tmp_path.iterdir()) == []


def test_server_down_names_the_url_and_the_offline_way(tmp_path):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # nothing listens here once closed
    url = f"http://127.0.0.1:{port}/x.tgz"
    with pytest.raises(DownloadError) as error:
        fetch(url, tmp_path / "x.tgz", timeout=2)
    assert f"cannot reach {url}" in str(error.value)
    assert "dvc exp run -S data.corpus=synthetic" in str(error.value)


def test_http_error_is_reported(server, tmp_path):
    with pytest.raises(DownloadError, match="HTTP 404"):
        fetch(f"{server}/missing", tmp_path / "m")


def make_tar(members):
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        for name, data, kind in members:
            info = tarfile.TarInfo(name)
            if kind == "symlink":
                info.type, info.linkname = tarfile.SYMTYPE, data
                tar.addfile(info)
            else:
                info.size = len(data)
                tar.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


@pytest.mark.parametrize("member", [("../evil.txt", b"x", "file"), ("/abs/evil.txt", b"x", "file"),
                                    ("d/link", "/etc/passwd", "symlink")])
def test_malicious_archive_members_are_refused(tmp_path, member):
    archive = tmp_path / "a.tgz"
    archive.write_bytes(make_tar([("d/ok.txt", b"fine", "file"), member]))
    with pytest.raises(DownloadError, match="unsafe archive member"):
        extract_tar(archive, tmp_path / "out")
    assert not (tmp_path / "out").exists() and not (tmp_path / "evil.txt").exists()


def test_zhang_archive_is_downloaded_extracted_and_counted(server, tmp_path, monkeypatch):
    from hsvae.data import corpora

    spec = corpora.CsvCorpus("tiny_csv", text_column=2, classes=2, rows={"train": 4, "test": 2})
    monkeypatch.setitem(corpora.CORPORA, "tiny", spec)
    rows = b'"1","t","a b"\n"2","t","c d"\n'
    Handler.files["/tiny_csv.tgz"] = make_tar([
        ("tiny_csv/train.csv", rows * 2, "file"), ("tiny_csv/test.csv", rows, "file"),
        ("tiny_csv/classes.txt", b"x\ny\n", "file")])
    download(data_settings({"corpus": "tiny", "source_dir": ""}), 0, tmp_path / "raw", tmp_path / "cache", {"zhang": server + "/{archive}.tgz"})
    assert (tmp_path / "raw" / "train.csv").read_bytes() == rows * 2
    monkeypatch.setitem(corpora.CORPORA, "tiny", corpora.CsvCorpus("tiny_csv", 2, 2, {"train": 5, "test": 2}))
    with pytest.raises(DownloadError, match="expected 5 rows in 2 classes, found 4 rows in 2 classes"):
        download(data_settings({"corpus": "tiny", "source_dir": ""}), 0, tmp_path / "raw2", tmp_path / "cache", {"zhang": server + "/{archive}.tgz"})


def test_authors_corpus_files_are_verified_by_blob_id(server, tmp_path, monkeypatch):
    from hsvae.data import corpora

    files = {name: f"{name} content\n".encode() for name in CORPORA["hsvae-dbpedia"].blob_ids}
    monkeypatch.setitem(corpora.CORPORA, "mini", corpora.SplitCorpus("Mini", {n: blob_id(d) for n, d in files.items()}))
    for name, data in files.items():
        Handler.files[f"/Mini/{name}"] = data
    download(data_settings({"corpus": "mini", "source_dir": ""}), 0, tmp_path / "raw", tmp_path / "cache",
             {"authors": server + "/{folder}/{file}"})
    assert sorted(p.name for p in (tmp_path / "raw").iterdir()) == sorted(files)


def test_an_archive_cut_short_without_a_length_is_not_cached_as_complete(server, tmp_path, monkeypatch):
    """The server sends no Content-Length and closes early: the file looks complete. It is read
    through before it is kept, removed with one line, and the next run (good server) succeeds."""
    from hsvae.data import corpora

    spec = corpora.CsvCorpus("cut_csv", text_column=2, classes=2, rows={"train": 400, "test": 2})
    monkeypatch.setitem(corpora.CORPORA, "cut", spec)
    rows = b'"1","t","a b"\n"2","t","c d"\n'
    archive = make_tar([("cut_csv/train.csv", rows * 200, "file"), ("cut_csv/test.csv", rows, "file"),
                        ("cut_csv/classes.txt", b"x\ny\n", "file")])
    Handler.files["/cut_csv.tgz"] = archive
    Handler.no_length, Handler.cut_after = True, len(archive) // 2
    urls = {"zhang": server + "/{archive}.tgz"}
    with pytest.raises(DownloadError, match=r"cut_csv.tgz(.part)?: an incomplete or damaged download of .*; removed, run "
                                            r"again to download it anew$"):
        download(data_settings({"corpus": "cut", "source_dir": ""}), 0, tmp_path / "raw", tmp_path / "cache", urls)
    assert not (tmp_path / "cache" / "cut_csv.tgz").exists() and not (tmp_path / "raw").exists()
    download(data_settings({"corpus": "cut", "source_dir": ""}), 0, tmp_path / "raw", tmp_path / "cache", urls)
    assert (tmp_path / "raw" / "train.csv").read_bytes() == rows * 200
    (tmp_path / "cache" / "cut_csv.tgz").write_bytes(archive[: len(archive) // 3])  # damaged in the cache later
    with pytest.raises(DownloadError, match="an incomplete or damaged download"):
        download(data_settings({"corpus": "cut", "source_dir": ""}), 0, tmp_path / "raw2", tmp_path / "cache", urls)
    assert not (tmp_path / "cache" / "cut_csv.tgz").exists()


def released_fixture(folder: Path, per_class=(3, 4, 5)):
    """The released files of a tiny corpus: validation (trains) and test split, 0-based labels,
    classes interleaved in the test file; the spec's blob ids those of the files written."""
    folder.mkdir()
    rows = [(c, f"valid sentence {c} {i}") for i in range(4) for c in range(len(per_class))]
    test = [(c, f"test sentence {c} {i}") for c, n in enumerate(per_class) for i in range(n)]
    test = test[::2] + test[1::2]  # not sorted by class
    files = {"valid.txt": "".join(t + "\n" for _, t in rows), "valid_class_label.txt": "".join(f"{c}\n" for c, _ in rows),
             "test.txt": "".join(t + "\n" for _, t in test), "test_class_label.txt": "".join(f"{c}\n" for c, _ in test),
             "vocab.txt": "sentence\nvalid\ntest\n"}
    for name, text in files.items():
        (folder / name).write_text(text)
    return test, {name: blob_id(text.encode()) for name, text in files.items()}


def test_released_splits_from_a_folder_follow_the_documented_rule(tmp_path, monkeypatch):
    """Training = the released validation split; validation and test = the released test split
    halved within each class (the first half, rounded down, in file order)."""
    from hsvae.data import corpora

    test, ids = released_fixture(tmp_path / "authors")
    monkeypatch.setitem(corpora.CORPORA, "tiny-released", corpora.SplitCorpus("Tiny", ids, resplit=True))
    data = data_settings({"corpus": "tiny-released", "source_dir": str(tmp_path / "authors")})
    download(data, 0, tmp_path / "raw", tmp_path / "cache")
    raw = tmp_path / "raw"
    assert (raw / "train.txt").read_bytes() == (tmp_path / "authors/valid.txt").read_bytes()
    assert (raw / "vocab.txt").read_bytes() == (tmp_path / "authors/vocab.txt").read_bytes()
    expected = {"valid": [], "test": []}
    for c, n in enumerate((3, 4, 5)):  # the rule, by hand, per class in file order
        mine = [t for label, t in test if label == c]
        expected["valid"] += mine[: n // 2]
        expected["test"] += mine[n // 2 :]
    for split in ("valid", "test"):
        sentences = (raw / f"{split}.txt").read_text().splitlines()
        labels = [int(x) for x in (raw / f"{split}_class_label.txt").read_text().splitlines()]
        assert sorted(sentences) == sorted(expected[split]) and len(labels) == len(sentences)
        assert all(s.split()[2] == str(label) for s, label in zip(sentences, labels))  # each line keeps its label
        assert [s for s in (t for _, t in test) if s in sentences] == sentences  # file order kept
    assert [int(x) for x in (raw / "valid_class_label.txt").read_text().split()].count(2) == 2  # 5 // 2


def test_released_files_are_refused_by_name_when_missing_or_different(tmp_path, monkeypatch):
    from hsvae.data import corpora

    _, ids = released_fixture(tmp_path / "authors")
    monkeypatch.setitem(corpora.CORPORA, "tiny-released", corpora.SplitCorpus("Tiny", ids, resplit=True))
    run = lambda folder: download(data_settings({"corpus": "tiny-released", "source_dir": str(folder)}), 0,  # noqa: E731
                                  tmp_path / "raw", tmp_path / "cache")
    with pytest.raises(UserError, match=rf"^data.source_dir: {tmp_path}/nowhere is not a folder$"):
        run(tmp_path / "nowhere")
    with open(tmp_path / "authors/test.txt", "a") as f:
        f.write("one more line\n")
    with pytest.raises(UserError, match=rf"^data.source_dir: {tmp_path}/authors/test.txt: git blob id [0-9a-f]{{40}}, "
                                        rf"expected {ids['test.txt']} \(the authors' released Tiny/test.txt\)$"):
        run(tmp_path / "authors")
    (tmp_path / "authors/vocab.txt").unlink()
    with pytest.raises(UserError, match=r"^data.source_dir: .*authors lacks vocab.txt \(the authors' Tiny files\)$"):
        run(tmp_path / "authors")
    assert not (tmp_path / "raw").exists()


@pytest.mark.skipif(not (ROOT.parent / "shared/data/hsvae-dbpedia/valid.txt").exists(),
                    reason="needs the authors' DBpedia files beside the repository (../shared)")
def test_the_released_dbpedia_files_give_14000_7000_7000_sentences(tmp_path):
    from hsvae.data.preprocess import preprocess

    data = DataSettings(corpus="hsvae-dbpedia-released", source_dir=str(ROOT.parent / "shared/data/hsvae-dbpedia"),
                        vocab_size=2000)
    download(data, 0, tmp_path / "raw", tmp_path / "cache")
    stats = preprocess(tmp_path / "raw", tmp_path / "processed", data, 0)
    assert {s: stats["splits"][s]["sentences"] for s in ("train", "valid", "test")} == {
        "train": 14_000, "valid": 7_000, "test": 7_000}
    assert stats["classes"] == 14 and stats["vocabulary"] == 2000
    assert all(set(stats["splits"][s]["per_class"].values()) == {n}
               for s, n in (("train", 1000), ("valid", 500), ("test", 500)))
