"""preprocess: clean, tokenise, sample per class and index data/raw into data/processed."""
from pathlib import Path

from hsvae.atomic import atomic_path, write_json
from hsvae.data.preprocess import preprocess
from hsvae.pipeline.stage import DATA, corpus_spec, run, stage_config


def main():
    data = stage_config("data")["data"]
    with atomic_path(DATA) as tmp:
        stats = preprocess(Path("data/raw"), tmp, data, data["seed"], corpus_spec(data))
    write_json("reports/data/stats.json", stats)


if __name__ == "__main__":
    run(main)
