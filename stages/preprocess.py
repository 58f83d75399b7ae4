"""preprocess: clean, tokenise, sample per class and index data/raw into data/processed."""
from pathlib import Path

from hsvae.core.atomic import atomic_path, write_json
from hsvae.data.preprocess import preprocess
from hsvae.data.settings import DataSettings
from hsvae.pipeline.stage import DATA, RAW, check_inputs, run, stage_config, write_record


def main():
    cfg = stage_config("data", data=DataSettings)
    data = cfg.data
    check_inputs(cfg)
    with atomic_path(DATA) as tmp:
        stats = preprocess(Path(RAW), tmp, data, data.seed)
        write_record(tmp, cfg.made_with)
    write_json("reports/data/stats.json", stats)


if __name__ == "__main__":
    run(main)
