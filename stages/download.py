"""download: fetch (or generate) the corpus named by data.corpus into data/raw."""
from pathlib import Path

from hsvae.atomic import atomic_path
from hsvae.data.corpora import download
from hsvae.pipeline.stage import run, stage_config


def main():
    data = stage_config("data")["data"]
    with atomic_path("data/raw") as tmp:
        download(data, data["seed"], tmp, cache=Path("data/downloads"))


if __name__ == "__main__":
    run(main)
