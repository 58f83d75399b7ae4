"""pretrain@MODEL: train one VAE; models/MODEL.pt, per-epoch logs in reports/pretrain/MODEL."""
from pathlib import Path

from dvclive import Live

from hsvae.models import VAE_MODELS
from hsvae.pretrain import pretrain
from hsvae.splits import Split
from hsvae.stage import DATA, device_and_dtype, load_params, model_argument, run


def main():
    params = load_params()
    name = model_argument(VAE_MODELS)
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
