"""download: fetch (or generate) the corpus named by data.corpus into data/raw."""
from pathlib import Path

from hsvae.core.atomic import atomic_path
from hsvae.data.corpora import download
from hsvae.data.settings import DataSettings
from hsvae.pipeline.stage import RAW, run, stage_config, write_record


def main():
    cfg = stage_config("data", data=DataSettings)
    with atomic_path(RAW) as tmp:
        download(cfg.data, cfg.data.seed, tmp, cache=Path("data/downloads"))
        write_record(tmp, cfg.made_with)


if __name__ == "__main__":
    run(main)
