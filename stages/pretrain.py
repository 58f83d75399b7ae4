"""pretrain@MODEL: train one VAE; models/MODEL.pt, per-epoch logs in reports/pretrain/MODEL."""
import sys
from pathlib import Path

from dvclive import Live

from hsvae.splits import Split
from hsvae.pretrain import pretrain
from hsvae.stage import DATA, device_and_dtype, load_params, run


def main():
    name = sys.argv[1]
    params = load_params()
    device, dtype = device_and_dtype(params)
    train, valid = Split(DATA, "train"), Split(DATA, "valid")
    vocab_size = len(Path(DATA, "vocab.txt").read_text().splitlines())
    checkpoint = Path("checkpoints") / f"{name}.pt"
    with Live(f"reports/pretrain/{name}", dvcyaml=False, save_dvc_exp=False) as live:
        pretrain(name, params, train, valid, vocab_size, device, dtype, Path("models") / f"{name}.pt",
                 checkpoint=checkpoint, live=live)
    checkpoint.unlink(missing_ok=True)


if __name__ == "__main__":
    run(main)
