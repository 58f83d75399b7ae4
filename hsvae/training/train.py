"""The one training loop every model uses: epochs of length-bucketed batches, mixed
precision, NaN/Inf guards, a checkpoint per epoch (a killed run resumes from it) and
per-epoch metrics through DVCLive."""
import math
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

from hsvae.atomic import atomic_path
from hsvae.device import autocast
from hsvae.errors import UserError
from hsvae.models.store import safe_load


class TrainingError(UserError, RuntimeError):
    pass


def _check_finite(values: dict, where: str):
    for name, value in values.items():
        value = float(value.detach()) if torch.is_tensor(value) else float(value)
        if not math.isfinite(value):
            raise TrainingError(f"{where}: {name} is {value}")


DIVERGED = 10.0  # an epoch's mean training loss this many times the first epoch's ends the run


def _check_not_diverging(name, history, metrics, epoch):
    """Training that multiplies its loss (e.g. train.lr too high) is stopped with a named error
    instead of ending "successfully" with a useless model."""
    first = history[0]["train/total"] if history else None
    now = metrics["train/total"]
    if first is not None and first > 0 and now > DIVERGED * first:
        raise TrainingError(f"{name}: diverged: the training loss grew from {first:.4g} (epoch 1) to {now:.4g} "
                            f"(epoch {epoch + 1}); lower train.lr")


def fit(*, name, model, optimizer, terms, batches, evaluate, epochs, seed, device, dtype=None,
        grad_clip=0.0, checkpoint=None, live=None, fingerprint=None, progress=True):
    """Train `model` for `epochs` and return the per-epoch metrics.

    terms(batch_indices) -> dict of scalar tensors with a "total" to minimise;
    batches(rng) -> the epoch's list of batch index arrays; evaluate() -> dict of floats.
    Epoch e draws its batch order and noise from seeds (seed, e), so a resumed run repeats
    exactly what an uninterrupted one does. The checkpoint stores the weights, the optimizer,
    and the metrics so far; one written for another `fingerprint` (other params) is ignored.
    """
    scaler = torch.amp.GradScaler(device.type, enabled=dtype == torch.float16)
    history, start = [], 0
    if checkpoint is not None and Path(checkpoint).exists():
        saved = safe_load(checkpoint)
        if saved.get("fingerprint") == fingerprint:
            model.load_state_dict(saved["model"])
            optimizer.load_state_dict(saved["optimizer"])
            scaler.load_state_dict(saved["scaler"])
            history, start = saved["history"], saved["epoch"]
            tqdm.write(f"{name}: resuming from {checkpoint} after epoch {start}")
        else:
            tqdm.write(f"{name}: {checkpoint} belongs to another run (other settings or data); training from epoch 1")
    if live is not None:
        for metrics in history:  # DVC cleared the logs of the killed run: write them again
            _log(live, metrics)
    parameters = [p for group in optimizer.param_groups for p in group["params"]]
    for epoch in tqdm(range(start, epochs), desc=f"{name} epochs", initial=start, total=epochs,
                      disable=not progress, position=0):
        torch.manual_seed(seed * 100_003 + epoch)
        order = batches(np.random.default_rng([seed, epoch]))
        model.train()
        sums, count = {}, 0
        bar = tqdm(order, desc=f"epoch {epoch + 1} batches", leave=False, disable=not progress, position=1)
        for step, indices in enumerate(bar):
            with autocast(device, dtype):
                values = terms(indices)
            _check_finite(values, f"{name}: epoch {epoch + 1}, step {step + 1}")
            optimizer.zero_grad(set_to_none=True)
            scaler.scale(values["total"]).backward()
            scaler.unscale_(optimizer)
            if dtype != torch.float16:  # with fp16 the scaler skips steps with overflowed gradients
                for p in parameters:
                    if p.grad is not None and not torch.isfinite(p.grad).all():
                        raise TrainingError(f"{name}: epoch {epoch + 1}, step {step + 1}: gradient is not finite")
            if grad_clip:
                torch.nn.utils.clip_grad_norm_(parameters, grad_clip)
            scaler.step(optimizer)
            scaler.update()
            n = len(indices)
            for key, value in values.items():
                sums[key] = sums.get(key, 0.0) + float(value.detach()) * n
            count += n
            if step % 20 == 0:
                bar.set_postfix(loss=f"{float(values['total'].detach()):.3f}")
        metrics = {f"train/{k}": v / count for k, v in sums.items()}
        model.eval()
        with torch.no_grad(), autocast(device, dtype):
            metrics.update(evaluate())
        _check_finite(metrics, f"{name}: epoch {epoch + 1}, evaluation")
        _check_not_diverging(name, history, metrics, epoch)
        metrics["epoch"] = epoch + 1
        history.append(metrics)
        if live is not None:
            _log(live, metrics)
        if checkpoint is not None:
            with atomic_path(checkpoint) as tmp:
                torch.save({"model": model.state_dict(), "optimizer": optimizer.state_dict(),
                            "scaler": scaler.state_dict(), "history": history, "epoch": epoch + 1,
                            "fingerprint": fingerprint}, tmp)
        if progress:
            shown = ", ".join(f"{k} {v:.4g}" for k, v in metrics.items() if k != "epoch")
            tqdm.write(f"{name} epoch {epoch + 1}/{epochs}: {shown}")
    return history


def _log(live, metrics):
    live.step = metrics["epoch"]  # the logs' step is the 1-based epoch, as in the figures
    for key, value in metrics.items():
        if key != "epoch":
            live.log_metric(key, value)
    live.next_step()
