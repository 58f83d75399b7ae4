"""The one training loop every model uses: epochs of length-bucketed batches, mixed
precision, NaN/Inf and divergence guards checked on the device, a checkpoint per epoch (a
killed run resumes from it) and per-epoch metrics through DVCLive."""
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np
import torch
from tqdm import tqdm

from hsvae.core.atomic import atomic_path
from hsvae.core.device import autocast
from hsvae.core.errors import UserError
from hsvae.core.errors import safe_load
from hsvae.training.step import make_step


class TrainingError(UserError, RuntimeError):
    pass


def check_finite(values: dict, where: str):
    for name, value in values.items():
        value = float(value.detach()) if torch.is_tensor(value) else float(value)
        if not math.isfinite(value):
            raise TrainingError(f"{where}: {name} is {value}")


DIVERGED = 10.0  # an epoch's mean training loss this many times the first epoch's ends the run
# A window of steps whose mean loss is this many times `loss_ceiling` (what a model that knows
# nothing scores) has diverged already in the first epoch.
ABOVE_CEILING = 2.0
# The guards' verdict is read from the device every this many steps and at each epoch's end:
# each read waits for the device, so reading every step would keep it idle between steps.
CHECK_EVERY = 50


def check_not_diverging(name, history, metrics, epoch):
    """Training that multiplies its loss (e.g. train.lr too high) is stopped with a named error
    instead of ending "successfully" with a useless model."""
    first = history[0]["train/total"] if history else None
    now = metrics["train/total"]
    if first is not None and first > 0 and now > DIVERGED * first:
        raise TrainingError(f"{name}: diverged: the training loss grew from {first:.4g} (epoch 1) to {now:.4g} "
                            f"(epoch {epoch + 1}); lower train.lr")


class Guard:
    """The per-step checks of a run, kept on the device in one float64 row — the first step
    whose loss terms or gradient norm are not finite, the loss summed and the steps counted
    since the last read, then the first bad step's values — so a read is one transfer."""

    def __init__(self, name, keys, device, loss_ceiling):
        self.name, self.keys, self.loss_ceiling = name, list(keys), loss_ceiling
        self.total = self.keys.index("total")
        self.state = torch.zeros(3 + len(self.keys) + 1, dtype=torch.float64, device=device)
        self.window_start = 1

    def update(self, step, values, norm):
        """values (keys,) and the gradient norm of this step (None: not checked)."""
        norm = torch.zeros((), device=values.device) if norm is None else norm
        checked = torch.cat([values.double(), norm.double().reshape(1)])
        first_bad = self.state[0]
        newly_bad = (first_bad == 0) & ~torch.isfinite(checked).all()
        self.state[0] = torch.where(newly_bad, step, first_bad)
        self.state[3:] = torch.where(newly_bad, checked, self.state[3:])
        self.state[1] += checked[self.total]
        self.state[2] += 1

    def read(self, epoch, step):
        """The run's first failure since the last read, or None (one wait for the device)."""
        first_bad, loss_sum, steps, *bad = self.state.tolist()
        self.state[1:3] = 0
        window, self.window_start = self.window_start, step + 1
        if first_bad:
            where = f"{self.name}: epoch {epoch + 1}, step {int(first_bad)}"
            key, value = next((k, v) for k, v in zip(self.keys + ["gradient"], bad) if not math.isfinite(v))
            return f"{where}: gradient is not finite" if key == "gradient" else f"{where}: {key} is {value}"
        mean = loss_sum / steps if steps else None
        if self.loss_ceiling and mean is not None and mean > ABOVE_CEILING * self.loss_ceiling:
            return (f"{self.name}: diverged: mean training loss {mean:.4g} over epoch {epoch + 1}'s steps "
                    f"{window}-{step}, above {ABOVE_CEILING:g} x {self.loss_ceiling:.4g} "
                    "(what guessing every word uniformly scores); lower train.lr")
        return None


@dataclass
class Objective:
    """What each step does: minimise terms(batch)["total"] with `optimizer`, its gradient
    norm clipped to `grad_clip` (0: not clipped), under autocast to `dtype` (None: fp32), as
    CUDA graphs when `graphs` (inputs from `load` must then be Batches)."""
    terms: Callable
    optimizer: torch.optim.Optimizer
    grad_clip: float = 0.0
    dtype: torch.dtype | None = None
    graphs: bool = False


@dataclass
class Checkpoint:
    """Where a run keeps its checkpoint, and what identifies the run (other params, data or
    code: another run, whose checkpoint is not resumed)."""
    path: Path
    run: dict


def fit(name, model, objective: Objective, batches, evaluate, *, epochs, seed, device, load=None,
        checkpoint: Checkpoint | None = None, live=None, progress=True, loss_ceiling=None):
    """Train `model` for `epochs` and return the per-epoch metrics.

    batches(rng) -> the epoch's list of batch index arrays; load(indices) -> the step's input
    (default: the indices); evaluate() -> dict of floats. Epoch e draws its batch order and
    noise from seeds (seed, e), so a resumed run repeats exactly what an uninterrupted one
    does. The checkpoint stores the weights, the optimizer, and the metrics so far.
    `loss_ceiling`: the loss of a model that knows nothing; a window of steps far above it
    stops the run as diverged.
    """
    optimizer, dtype = objective.optimizer, objective.dtype
    scaler = torch.amp.GradScaler(device.type, enabled=dtype == torch.float16)
    history, start = [], 0
    if checkpoint is not None and checkpoint.path.exists():
        saved = safe_load(checkpoint.path)
        if saved.get("run") == checkpoint.run:
            model.load_state_dict(saved["model"])
            optimizer.load_state_dict(saved["optimizer"])
            scaler.load_state_dict(saved["scaler"])
            history, start = saved["history"], saved["epoch"]
            tqdm.write(f"{name}: resuming from {checkpoint.path} after epoch {start}")
        else:
            tqdm.write(f"{name}: {checkpoint.path} belongs to another run (other settings, data or code); "
                       "training from epoch 1")
    if live is not None:
        for metrics in history:  # DVC cleared the logs of the killed run: write them again
            _log(live, metrics)
    load = load or (lambda indices: indices)
    run_step = make_step(objective.terms, optimizer, device, dtype, objective.grad_clip, scaler, objective.graphs)
    saved_epochs = start
    try:
        for epoch in tqdm(range(start, epochs), desc=f"{name} epochs", initial=start, total=epochs,
                          disable=None if progress else True, position=0):
            torch.manual_seed(seed * 100_003 + epoch)
            order = batches(np.random.default_rng([seed, epoch]))
            model.train()
            guard, sums, count = None, None, 0
            bar = tqdm(order, desc=f"epoch {epoch + 1} batches", leave=False, disable=None if progress else True,
                       position=1)
            for step, indices in enumerate(bar, 1):
                values, norm = run_step(load(indices))
                if guard is None:
                    guard = Guard(name, values, device, loss_ceiling)
                    sums = torch.zeros(len(values), dtype=torch.float64, device=device)
                row = torch.stack([values[k].double() for k in guard.keys])
                guard.update(step, row, norm)
                n = len(indices)
                sums += row * n
                count += n
                if step % CHECK_EVERY == 0:
                    _raise(guard.read(epoch, step))
            if guard is not None:
                _raise(guard.read(epoch, len(order)))
            metrics = {f"train/{k}": v / count for k, v in zip(guard.keys, sums.tolist())} if guard else {}
            model.eval()
            with torch.no_grad(), autocast(device, dtype):
                metrics.update(evaluate())
            check_finite(metrics, f"{name}: epoch {epoch + 1}, evaluation")
            check_not_diverging(name, history, metrics, epoch)
            metrics["epoch"] = epoch + 1
            history.append(metrics)
            if live is not None:
                _log(live, metrics)
            if checkpoint is not None:
                with atomic_path(checkpoint.path) as tmp:
                    torch.save({"model": model.state_dict(), "optimizer": optimizer.state_dict(),
                                "scaler": scaler.state_dict(), "history": history, "epoch": epoch + 1,
                                "run": checkpoint.run}, tmp)
                saved_epochs = epoch + 1
            if progress:
                shown = ", ".join(f"{k} {v:.4g}" for k, v in metrics.items() if k != "epoch")
                tqdm.write(f"{name} epoch {epoch + 1}/{epochs}: {shown}")
    except KeyboardInterrupt:
        resume = f"run again to resume from epoch {saved_epochs + 1}" if checkpoint is not None else ""
        raise KeyboardInterrupt(resume) from None
    return history


def _raise(failure):
    if failure:
        raise TrainingError(failure)


def _log(live, metrics):
    live.step = metrics["epoch"]  # the logs' step is the 1-based epoch, as in the figures
    for key, value in metrics.items():
        if key != "epoch":
            live.log_metric(key, value)
    live.next_step()
