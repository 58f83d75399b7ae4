"""The sparse-code explorer: its statistics against independent computations, the page's
safety with hostile text, `hsvae explore` on bad input, and the page in a real browser."""
import json
import math
import re
import shutil
import subprocess
import sys

import numpy as np
import pytest
from sklearn.metrics import normalized_mutual_info_score, roc_auc_score

from hsvae.analysis import explore as E
from hsvae.analysis.explore_page import model_page
from tests.pipeline_utils import ROOT


def test_log_odds_against_a_hand_computed_two_by_two_example():
    # two words; 4 sentences where the dimension is on, 4 where it is off; prior counts 4 and 4, alpha0 = 2
    delta, z = E.log_odds([3, 1], [1, 3], 4, 4, [4, 4], alpha0=2.0)
    # alpha = 1 per word: on odds log((3+1)/(4+2-3-1)), off odds log((1+1)/(4+2-1-1))
    expected = math.log(4 / 2) - math.log(2 / 4)
    assert delta[0] == pytest.approx(expected) and delta[1] == pytest.approx(-expected)
    assert z[0] == pytest.approx(expected / math.sqrt(1 / 4 + 1 / 2))


def test_nmi_and_auroc_agree_with_scikit_learn_on_random_data():
    rng = np.random.default_rng(0)
    for _ in range(20):
        on = rng.random(400) < rng.uniform(0.05, 0.95)
        labels = rng.integers(0, rng.integers(2, 8), 400)
        assert E.nmi(on, labels) == pytest.approx(normalized_mutual_info_score(on, labels), abs=1e-12)
        scores = rng.integers(0, 6, 400).astype(float)  # ties on purpose
        positive = labels == 1
        if positive.any() and not positive.all():
            assert E.auroc(scores, positive) == pytest.approx(roc_auc_score(positive, scores), abs=1e-12)
    assert E.auroc([0.1, 0.2], [True, True]) is None


def test_npmi_of_a_small_hand_made_corpus():
    docs = [["a", "b"], ["a", "b"], ["a", "c"], ["c"]]
    vocab = {"a": 0, "b": 1, "c": 2}
    x = E.presence(docs, vocab)
    ab = math.log((2 / 4) / (3 / 4 * 2 / 4)) / -math.log(2 / 4)
    ac = math.log((1 / 4) / (3 / 4 * 2 / 4)) / -math.log(1 / 4)
    assert E.npmi(["a", "b"], x, vocab) == pytest.approx(ab)
    assert E.npmi(["a", "b", "c"], x, vocab) == pytest.approx((ab + ac - 1.0) / 3)  # b, c never together: -1
    assert E.npmi(["a", "zzz"], x, vocab) is None


def codes(seed=0, n=120, dims=6):
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 3, n)
    gamma = rng.uniform(0, 1, (n, dims))
    gamma[:, 0] = np.where(labels == 2, 0.1, 0.9)  # dimension 0 is on exactly for class 2
    gamma[:, 1] = 0.99  # dead
    mean = rng.normal(0, 1, (n, dims)) * (1 - gamma)
    words = [["river", "town"], ["album", "band"], ["plant", "genus"]]
    texts = [" ".join(words[label] + ["the", f"w{i % 7}"]) for i, label in enumerate(labels)]
    return mean, gamma, labels, texts


def test_on_rates_classes_and_words_follow_the_codes():
    mean, gamma, labels, texts = codes()
    explored = E.explore(mean, gamma, np.ones(6), texts, labels, ["River", "Album", "Plant"], texts)
    cards = explored["cards"]
    assert [c["on_rate"] for c in cards] == pytest.approx((gamma < 0.5).mean(0), abs=1e-4)
    assert [c["spike_probability"] for c in cards] == pytest.approx(gamma.mean(0), abs=1e-4)
    assert cards[1]["flag"] == "dead" and cards[0]["flag"] is None
    first = cards[0]
    assert first["best_class"] == "Plant" and first["purity"] == 1.0
    assert first["nmi"] == pytest.approx(normalized_mutual_info_score(gamma[:, 0] < 0.5, labels), abs=1e-4)
    for c, name in enumerate(["River", "Album", "Plant"]):  # the on-score 1 - E[gamma] against each class
        found = next(k for k in first["classes"] if k["class"] == name)
        assert found["auroc"] == pytest.approx(roc_auc_score(labels == c, 1 - gamma[:, 0]), abs=1e-4)
        assert found["p_on"] == pytest.approx((gamma[labels == c, 0] < 0.5).mean(), abs=1e-4)
    assert {w["word"] for w in first["words_over"][:2]} == {"plant", "genus"}
    assert all(s["class"] == "Plant" for s in first["top_positive"] + first["top_negative"])
    assert all(s["class"] != "Plant" for s in first["off"])
    assert explored["active_per_sentence"] == pytest.approx((gamma < 0.5).sum(1).mean(), abs=1e-3)
    dense = E.explore(mean, None, np.full(6, 0.2), texts, labels, ["River", "Album", "Plant"], texts)
    assert [c["on_rate"] for c in dense["cards"]] == pytest.approx((np.abs(mean) / 0.2 > 0.5).mean(0), abs=1e-4)
    scores = E.scores(explored)
    assert scores["dead"] == 1 and scores["active_dimensions"] + scores["dead"] + scores["always_on"] == 6


def test_the_page_inserts_hostile_text_as_text():
    mean, gamma, labels, texts = codes()
    texts[0] = 'the river </script><script>alert(1)</script> <b>bold</b> & <!-- x'
    explored = E.explore(mean, gamma, np.ones(6), texts, labels, ["River", "Album", "Plant"], texts)
    page = model_page("HSVAE </script> test", explored, E.scores(explored))
    assert page.count("</script>") == 2 and "<b>bold</b>" not in page and "<!-- x" not in page
    inlined = re.search(r'<script type="application/json" id="data">(.*?)</script>', page, re.S).group(1)
    assert json.loads(inlined) == json.loads(json.dumps(explored))  # the data survive the escaping whole
    assert "textContent" in page and "innerHTML" not in page


def model_file(tmp_path):
    """A real (tiny, untrained) HSVAE model file, as the pretrain stage saves one."""
    import torch

    from hsvae.data.vocabulary import SPECIALS
    from hsvae.models.hsvae import HSVAEConfig
    from hsvae.models.registry import build_vae
    from hsvae.models.settings import ArchSettings
    from hsvae.models.store import save

    words = ["the", "river", "town", "album", "band"]
    torch.manual_seed(0)
    model = build_vae("hsvae", len(SPECIALS) + len(words), ArchSettings(embedding_dim=8, hidden_dim=16, latent_dim=4),
                      HSVAEConfig())
    path = tmp_path / "hsvae.pt"
    save(path, model.state_dict(), name="hsvae", vocab_size=len(SPECIALS) + len(words),
         arch={"embedding_dim": 8, "hidden_dim": 16, "latent_dim": 4}, hparams={}, vocab=list(SPECIALS) + words,
         dimension_scale=[1.0] * 4)
    return path


def explore_cli(*args, cwd=None):
    return subprocess.run([sys.executable, "-m", "hsvae", "explore", *map(str, args)], capture_output=True, text=True,
                          cwd=cwd or ROOT)


def test_hsvae_explore_writes_the_page_and_refuses_bad_input_in_one_line(tmp_path):
    model = model_file(tmp_path)
    sentences = tmp_path / "sentences.txt"
    sentences.write_text("the river town\nthe album band\nthe </script> river\n" * 4)
    labels = tmp_path / "labels.txt"
    labels.write_text("place\nmusic\nplace\n" * 4)
    done = explore_cli("--model", model, "--input", sentences, "--labels", labels, "--out", tmp_path / "out")
    assert done.returncode == 0, done.stderr
    data = json.loads((tmp_path / "out" / "hsvae.json").read_text())
    assert data["sentences"] == 12 and data["classes"] == ["music", "place"] and len(data["cards"]) == 4
    assert (tmp_path / "out" / "hsvae.html").read_text().count("</script>") == 2

    garbage = tmp_path / "garbage.pt"
    garbage.write_bytes(b"not a model")
    binary = tmp_path / "binary.txt"
    binary.write_bytes(b"\x00\x01\x02the river\n")
    empty = tmp_path / "empty.txt"
    empty.write_text("\n  \n")
    short = tmp_path / "short.txt"
    short.write_text("place\n")
    cases = [
        (["--model", garbage, "--input", sentences], r"garbage.pt: cannot be read as a saved model"),
        (["--model", model, "--input", binary], r"--input \S+binary.txt: not a text file"),
        (["--model", model, "--input", empty], r"--input \S+empty.txt: no sentences"),
        (["--model", model, "--input", sentences, "--labels", short],
         r"--labels \S+short.txt: 1 labels for the 12 sentences"),
        (["--model", model, "--input", sentences, "--out", sentences], r"--out \S+sentences.txt: a file"),
    ]
    for args, message in cases:
        out = [] if "--out" in args else ["--out", tmp_path / "refused"]
        done = explore_cli(*args, *out)
        assert done.returncode == 2, done.stderr
        assert len(done.stderr.strip().splitlines()) == 1 and re.search(message, done.stderr), done.stderr
    assert not (tmp_path / "refused").exists()  # nothing written for a refused run


@pytest.mark.skipif(shutil.which("chromium") is None, reason="Debian's chromium is not installed")
def test_the_page_works_in_chromium_from_disk(tmp_path):
    """Headless Chromium opens the page from file://, with no console error: the summary table
    has a row per dimension, and #dim=N opens that dimension's card with its sentences."""
    mean, gamma, labels, texts = codes(dims=40)
    explored = E.explore(mean, gamma, np.ones(40), texts, labels, ["River", "Album", "Plant"], texts)
    page = tmp_path / "hsvae.html"
    page.write_text(model_page("HSVAE test", explored, E.scores(explored)))
    done = subprocess.run(["chromium", "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
                           "--disable-background-networking", "--disable-component-update", "--disable-sync",
                           f"--user-data-dir={tmp_path / 'profile'}", "--enable-logging=stderr", "--v=0",
                           "--virtual-time-budget=3000", "--dump-dom", f"file://{page}#dim=0"],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    console = [line for line in done.stderr.splitlines() if "CONSOLE" in line or "Uncaught" in line]
    assert console == [], console
    dom = done.stdout
    assert len(re.findall(r'<tr class="row" data-dim="\d+"', dom)) == 40
    card = dom.split("Dimension 0", 1)[1]
    assert "Switches it on most" in card and "plant genus" in card  # its sentences are on the card
    # The histograms' quantile labels (10px text, under 6.5px a character) never share a row closer than their width.
    rows = 0
    for svg in re.findall(r"<svg.*?</svg>", card, re.S):
        labels = [(float(x), float(y), text) for x, y, text in
                  re.findall(r'<text x="([-\d.]+)" y="([-\d.]+)">(q[\d.]+)</text>', svg)]
        assert len(labels) == 5, svg
        rows = max(rows, len({y for _, y, _ in labels}))
        for i, (x0, y0, t0) in enumerate(labels):
            for x1, y1, t1 in labels[i + 1:]:
                assert y0 != y1 or abs(x1 - x0) >= 6.5 * len(t0 if x0 < x1 else t1), (t0, t1, svg)
    assert rows > 1  # close quantiles were there to be kept apart
