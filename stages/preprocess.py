"""preprocess: clean, tokenise, sample per class and index data/raw into data/processed."""
from pathlib import Path

from hsvae.atomic import atomic_path, write_json
from hsvae.preprocess import preprocess
from hsvae.stage import DATA, corpus_spec, load_params, run


def main():
    params = load_params()
    with atomic_path(DATA) as tmp:
        stats = preprocess(Path("data/raw"), tmp, params["data"], params["seed"], corpus_spec(params))
    write_json("reports/data/stats.json", stats)


if __name__ == "__main__":
    run(main)
