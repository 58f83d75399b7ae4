"""download: fetch (or generate) the corpus named by data.corpus into data/raw."""
from pathlib import Path

from hsvae.atomic import atomic_path
from hsvae.corpora import download
from hsvae.stage import load_params, run


def main():
    params = load_params()
    with atomic_path("data/raw") as tmp:
        download(params["data"], params["seed"], tmp, cache=Path("data/downloads"))


if __name__ == "__main__":
    run(main)
