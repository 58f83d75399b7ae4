"""classify@MODEL: the frozen-encoder classifier of a pretrained VAE (or a baseline:
classifier, bert); test metrics in reports/classify/MODEL/test.json."""
from pathlib import Path

import torch
from dvclive import Live

from hsvae.atomic import write_json
from hsvae.classify import train_head, train_simple_classifier
from hsvae.models import VAE_MODELS
from hsvae.nets import BertEncoder
from hsvae.params import BASELINES
from hsvae.pretrain import arch_uses_text, encoder_features, evaluate
from hsvae.splits import Split
from hsvae.stage import DATA, device_and_dtype, load_params, model_argument, run
from hsvae.store import load_vae

SPLITS = ("train", "valid", "test")


def main():
    params = load_params()
    name = model_argument([*VAE_MODELS, *BASELINES])
    device, dtype = device_and_dtype(params)
    splits = {s: Split(DATA, s) for s in SPLITS}
    labels = {s: splits[s].labels for s in SPLITS}
    cfg, seed, eval_batch = params["classify"], params["seed"], params["train"]["eval_batch_size"]
    out = Path("reports/classify") / name
    metrics = {}
    with Live(str(out), dvcyaml=False, save_dvc_exp=False) as live:
        if name == "classifier":
            vocab_size = len(Path(DATA, "vocab.txt").read_text().splitlines())
            _, _, predictions = train_simple_classifier(
                splits["train"], splits["valid"], splits["test"], vocab_size, params["arch"], params["train"],
                cfg, seed, device, dtype, live)
        else:
            with torch.no_grad():
                if name == "bert":
                    encoder = BertEncoder(params["arch"]["bert"]).to(device).eval()
                    features = {s: encoder_features(encoder, splits[s], eval_batch, device, True) for s in SPLITS}

                    def sample(rows):
                        return rows.unsqueeze(0)
                else:
                    model, _ = load_vae(Path("models") / f"{name}.pt", device)
                    model.requires_grad_(False)
                    with_text = arch_uses_text(name)
                    metrics = {f"test_{k}": v for k, v in evaluate(model, splits["test"], eval_batch, device,
                                                                  with_text, seed).items()}
                    features = {s: encoder_features(model.encoder, splits[s], eval_batch, device, with_text) for s in SPLITS}

                    def sample(rows):
                        return model.sample_from_features(rows, cfg["samples"])
            _, _, predictions = train_head(name, features, labels, sample, splits["train"].classes, cfg, seed,
                                           device, live)
        for split in ("valid", "test"):
            metrics[f"{split}_accuracy"] = float((predictions[split] == labels[split]).mean())
        names = Path(DATA, "classes.txt").read_text().split()
        live.log_sklearn_plot("confusion_matrix", [names[i] for i in labels["test"]],
                              [names[i] for i in predictions["test"]], name="confusion_matrix.json")
    write_json(out / "test.json", metrics)


if __name__ == "__main__":
    run(main)
