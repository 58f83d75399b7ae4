"""The cross-check: the authors' HSVAE and MAT-VAE (their TensorFlow scripts) and this
repository's, trained on the same split, vocabulary and settings for several seeds; each run's
per-epoch validation curves are appended to one results file as it finishes, so a killed
cross-check resumes with the runs it lacks."""
import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

from hsvae.core.atomic import atomic_path, write_json
from hsvae.core.errors import InputError
from hsvae.crosscheck import authors
from hsvae.data.splits import load_splits
from hsvae.data.vocabulary import SPECIALS, UNK, Vocabulary
from hsvae.models.registry import VAE_MODELS

# The settings of the side-by-side runs: the dbpedia-cpu corpus and sizes (the released DBpedia
# splits, vocabulary 2,000, GRU 128, embeddings 64, latent 32, batch 64, lr 8e-4), 4 epochs and,
# as in the authors' scripts, no gradient clipping. The models' weights are the defaults, the
# paper's (HSVAE alpha 4, beta 1, psi = lambda = 0.01, tau 0.5; MAT-VAE psi = lambda = 0.01).
OVERRIDES = ("preset=dbpedia-cpu", "train.epochs=4", "train.grad_clip=0")
MODELS = ("hsvae", "mat_vae")
# What each curve is called in this repository's validation logs.
OURS = {"rec": "valid/rec", "kl_z": "valid/kl_z", "kl_gamma": "valid/kl_gamma", "mmd": "valid/mmd",
        "ah_sample": "valid/ah_sample"}
# AH "on means": HSVAE's (1 - gamma~) mu with gamma~ drawn from q(gamma|x), as the authors' script
# scores "the mean of spike-and-slab"; MAT-VAE's posterior mean mu.
OURS_MEAN = {"hsvae": "valid/ah_gamma_sample_mean", "mat_vae": "valid/ah_mean"}


def settings(params, model: str) -> dict:
    """What the authors' script of `model` is run with, read from the same settings as ours."""
    arch, train, section = params.arch, params.train, getattr(params, VAE_MODELS[model].section)
    found = {"model": model, "epochs": train.epochs, "batch_size": train.batch_size, "lr": train.lr,
             "embedding_dim": arch.embedding_dim, "hidden_dim": arch.hidden_dim, "latent_dim": arch.latent_dim,
             "psi": section.psi, "lambda": section.lam}
    if model == "hsvae":
        found.update(alpha=section.alpha, beta=section.beta, temperature=section.temperature)
    else:
        found["gamma"] = section.gamma
    return found


def write_authors_data(processed: Path, out: Path):
    """train.txt, valid.txt and vocab.txt for the authors' loader: the same token sequences
    this repository trains on (its vocabulary, unknown words as their `_UNK`)."""
    vocab = Vocabulary.load(processed / "vocab.txt")
    splits = load_splits(processed)
    out.mkdir(parents=True, exist_ok=True)
    words = ["_UNK" if i == UNK else w for i, w in enumerate(vocab.words)]
    for name in ("train", "valid"):
        lines = (" ".join(words[i] for i in sentence) for sentence in splits[name].sentences)
        (out / f"{name}.txt").write_text("\n".join(lines) + "\n", encoding="utf-8")
    (out / "vocab.txt").write_text("\n".join(vocab.words[len(SPECIALS):] + ["_UNK"]) + "\n", encoding="utf-8")


def prepare(params, work: Path) -> Path:
    """The corpus of `params`, downloaded (or read from data.source_dir) and preprocessed into
    `work`, as the pipeline's download and preprocess stages make it."""
    from hsvae.data.corpora import download
    from hsvae.data.preprocess import preprocess

    data = params.data
    processed = work / "processed"
    if not processed.exists():
        with atomic_path(work / "raw") as raw:
            download(data, data.seed, raw, cache=work / "downloads")
        with atomic_path(processed) as tmp:
            preprocess(work / "raw", tmp, data, data.seed)
    if not (work / "authors-data").exists():
        with atomic_path(work / "authors-data") as tmp:
            write_authors_data(processed, tmp)
    return processed


def run_ours(params, model: str, seed: int, processed: Path) -> list:
    """This repository's `model` trained on `processed` at `seed`: its per-epoch validation curves."""
    from hsvae.core.device import device_and_dtype
    from hsvae.data.splits import vocabulary_size
    from hsvae.pipeline.configs import stage_configs
    from hsvae.training.pretrain import training_setup, validation_metrics
    from hsvae.training.train import Objective, fit

    train = params.train.model_copy(update={"seed": seed})
    cfg = stage_configs(params.model_copy(update={"train": train, "models": [model]}))[f"pretrain/{model}"]
    device, dtype = device_and_dtype(train)
    splits = load_splits(processed)
    setup = training_setup(cfg, splits["train"], vocabulary_size(processed), device, dtype)
    objective = Objective(setup.model.loss_terms, setup.optimizer, train.grad_clip, dtype, setup.graphs)
    history = fit(model, setup.model, objective, setup.batches,
                  lambda: validation_metrics(setup.model, splits["valid"], train, device),
                  epochs=train.epochs, seed=seed, device=device, load=setup.load, progress=False)
    keys = {**OURS, "ah_mean": OURS_MEAN[model]}
    return [{"epoch": row["epoch"], **{k: row[v] for k, v in keys.items() if v in row}} for row in history]


def run_authors(params, model: str, seed: int, work: Path, source: str | None, tf_python: str) -> list:
    """The authors' `model` script, patched, run by `tf_python` on the same data at `seed`: its
    per-epoch validation curves read from its log (kept in `work`/logs)."""
    script = authors.script(model, source, work / "downloads")
    patched = work / "patched" / f"{model}.py"
    patched.parent.mkdir(parents=True, exist_ok=True)
    patched.write_text(authors.patch(script.read_text(encoding="utf-8"), str(script)), encoding="utf-8")
    found = settings(params, model)
    settings_path = work / "patched" / f"{model}.json"
    write_json(settings_path, found)
    log = work / "logs" / f"authors-{model}-{seed}.log"
    log.parent.mkdir(parents=True, exist_ok=True)
    driver = Path(__file__).with_name("tf_driver.py")
    env = {**os.environ, "TF_USE_LEGACY_KERAS": "1", "TF_CPP_MIN_LOG_LEVEL": "2", "CUDA_VISIBLE_DEVICES": ""}
    with open(log, "w") as out:
        done = subprocess.run([tf_python, str(driver), str(patched), str(work / "authors-data"), str(settings_path),
                               str(seed)], stdout=out, stderr=subprocess.STDOUT, env=env)
    if done.returncode:
        tail = log.read_text(errors="replace").strip().splitlines()[-1:] or ["(no output)"]
        raise InputError(f"the authors' {model} (seed {seed}) failed, exit {done.returncode}: {tail[0]} "
                         f"(whole log: {log})")
    return authors.read_log(log.read_text(errors="replace"), model, found["psi"], found["lambda"])


def load_results(out: Path) -> dict:
    """The runs made so far (out/runs/*.json, one file each) with their settings."""
    runs = [json.loads(p.read_text()) for p in sorted((out / "runs").glob("*.json"))]
    made = {tuple(r["overrides"]) for r in runs}
    if len(made) > 1:
        raise InputError(f"{out / 'runs'}: runs made with different settings {sorted(made)}; keep one kind")
    return {"overrides": runs[0]["overrides"] if runs else [], "settings": {r["model"]: r["settings"] for r in runs},
            "runs": [{k: r[k] for k in ("implementation", "model", "seed", "epochs")} for r in runs]}


def crosscheck(out: Path, work: Path, seeds, models=MODELS, implementations=("authors", "ours"),
               source: str | None = None, tf_python: str = sys.executable, overrides=()):
    """Every (implementation, model, seed) run missing from `out`/runs, each written there as
    it finishes (several cross-checks may share `out`, e.g. the authors' runs and ours at once);
    `out`/results.json gathers them."""
    from hsvae.pipeline.params import compose, validate

    params = validate(compose([*OVERRIDES, *overrides]))
    # What made the runs; a folder of the authors' files (verified by git blob id) is not.
    chosen = [o for o in (*OVERRIDES, *overrides) if not o.startswith("data.source_dir=")]
    data = {k: v for k, v in params.data.params().items() if k != "source_dir"}
    work = work / hashlib.sha256(json.dumps(data, sort_keys=True).encode()).hexdigest()[:12]  # one folder per corpus
    processed = prepare(params, work)
    found = load_results(out)
    if found["runs"] and found["overrides"] != chosen:
        raise InputError(f"{out / 'runs'}: made with {' '.join(found['overrides'])}, not {' '.join(chosen)}; "
                         "use another --out for other settings")
    for model in models:
        for seed in seeds:
            for implementation in implementations:
                path = out / "runs" / f"{implementation}-{model}-{seed}.json"
                if path.exists():
                    continue
                print(f"cross-check: {implementation} {model} seed {seed}", flush=True)
                curves = (run_authors(params, model, seed, work, source, tf_python) if implementation == "authors"
                          else run_ours(params, model, seed, processed))
                write_json(path, {"implementation": implementation, "model": model, "seed": seed,
                                  "overrides": chosen, "settings": settings(params, model), "epochs": curves})
                write_json(out / "results.json", load_results(out))
    return load_results(out)
