"""Pretraining K runs of one model class and size as one pack (hsvae/models/packed.py).

Each member is the run its stage config describes, trained as that run would be: its weights
initialised from its own seed, its own batch order and sampling noise from (seed, epoch), its
own Adam state and learning rate, its gradient clipped by its own norm, its own validation
after each epoch. A member whose loss or gradient is not finite, or that diverges, is stopped
and reported by name; the others go on. What a pack leaves for each member is the checkpoint
`fit` writes after a run's last epoch, so the pretrain stage of that run finds it finished
(`dvc exp run` then writes its model and logs without training it again).
"""
from dataclasses import dataclass

import numpy as np
import torch
from tqdm import tqdm

from hsvae.device import autocast
from hsvae.models.packed import MemberRandomness, Pack, pack_batches
from hsvae.training.pretrain import run_fingerprint, training_setup, uniform_loss, validation_metrics
from hsvae.training.train import CHECK_EVERY, Guard, TrainingError, check_finite, check_not_diverging


@dataclass
class Member:
    name: str  # how messages name the run (a study names it by its experiment)
    cfg: dict  # its pretrain stage config: name, arch, train, hparams


class StackedAdam:
    """torch.optim.Adam over [K, ...] weights, member by member: a learning rate and a step
    count per member; members not `stepping` keep their weights and moments."""

    def __init__(self, params, lrs, betas=(0.9, 0.999), eps=1e-8):
        self.params = list(params)
        device = self.params[0].device
        self.lrs = torch.tensor(lrs, dtype=torch.float64, device=device)
        self.betas, self.eps = betas, eps
        self.steps = torch.zeros(len(lrs), dtype=torch.float64, device=device)
        self.exp_avg = [torch.zeros_like(p) for p in self.params]
        self.exp_avg_sq = [torch.zeros_like(p) for p in self.params]

    @torch.no_grad()
    def step(self, stepping: torch.Tensor):
        beta1, beta2 = self.betas
        self.steps += stepping
        steps = self.steps.clamp(min=1)
        step_size = self.lrs / (1 - beta1**steps)
        correction2_sqrt = (1 - beta2**steps).sqrt()
        for p, m, v in zip(self.params, self.exp_avg, self.exp_avg_sq):
            shape = (-1,) + (1,) * (p.dim() - 1)
            on, grad = stepping.view(shape), p.grad
            m.copy_(torch.where(on, m.lerp(grad, 1 - beta1), m))
            v.copy_(torch.where(on, v * beta2 + (1 - beta2) * grad * grad, v))
            denom = v.sqrt() / correction2_sqrt.view(shape).to(v.dtype) + self.eps
            p.copy_(torch.where(on, p - step_size.view(shape).to(p.dtype) * m / denom, p))

    def member_state(self, k: int, model: torch.nn.Module) -> dict:
        """Member k's state as torch.optim.Adam's state dict for `model` (its own run's)."""
        optimizer = torch.optim.Adam(model.parameters(), lr=float(self.lrs[k]), betas=self.betas, eps=self.eps)
        for p, m, v in zip(model.parameters(), self.exp_avg, self.exp_avg_sq):
            optimizer.state[p] = {"step": torch.tensor(float(self.steps[k])), "exp_avg": m[k].detach().clone(),
                                  "exp_avg_sq": v[k].detach().clone()}
        return optimizer.state_dict()


def pack_step(pack: Pack, optimizer: StackedAdam, batch, randomness, active, device, dtype, grad_clip=0.0):
    """One step of every member that has a batch: (per-member loss terms or None, (K,)
    gradient norms). Each member's gradient is clipped by its own norm, as its run's is."""
    with autocast(device, dtype):
        results = pack.loss_terms(batch, randomness, active)
    torch.stack([r["total"] for r in results if r is not None]).sum().backward()
    grads = [p.grad for p in pack.weights]
    norms = torch.stack([g.float().pow(2).flatten(1).sum(1) for g in grads]).sum(0).sqrt()
    if grad_clip:
        scale = (grad_clip / (norms + 1e-6)).clamp(max=1.0)
        for g in grads:
            g.mul_(scale.view((-1,) + (1,) * (g.dim() - 1)).to(g.dtype))
    optimizer.step(batch.row_counts > 0)  # the members with a batch: those with results
    for p in pack.weights:
        p.grad = None
    return results, norms


def pretrain_pack(members, train_split, valid_split, vocab_size, device, dtype, progress=True) -> dict:
    """Train the members' runs as one pack on shared data. Returns {member name: the
    checkpoint its run's `fit` leaves after the last epoch, or the error that stopped it}."""
    if dtype == torch.float16:
        raise TrainingError("train.precision fp16: a pack has no loss scaling; use bf16 (or fp32, tf32)")
    setups = [training_setup(m.cfg, train_split, vocab_size, device, dtype) for m in members]
    trains = [m.cfg["train"] for m in members]
    pack = Pack([s.model for s in setups]).to(device)
    optimizer = StackedAdam(pack.weights, [t["lr"] for t in trains])
    randomness = MemberRandomness(device)
    names = [m.name for m in members]
    active = [True] * len(members)
    errors, histories = {}, [[] for _ in members]
    ceiling = uniform_loss(train_split, vocab_size)

    def stop(k, error):
        active[k] = False
        errors[names[k]] = error
        tqdm.write(f"pack: {error}")

    epochs = trains[0]["epochs"]
    for epoch in tqdm(range(epochs), desc=f"pack of {len(members)} epochs", disable=None if progress else True):
        orders = []
        for k, train in enumerate(trains):  # as fit: noise from (seed, epoch), batch order from rng [seed, epoch]
            randomness.seed(k, train["seed"] * 100_003 + epoch)
            orders.append(setups[k].batches(np.random.default_rng([train["seed"], epoch])))
        steps = max(len(o) for o in orders)
        guard = sums = None
        counts = np.zeros(len(members))
        for step in tqdm(range(1, steps + 1), desc=f"epoch {epoch + 1} steps", leave=False,
                         disable=None if progress else True):
            batches = [train_split.batch(o[step - 1]) if active[k] and step <= len(o) else None
                       for k, o in enumerate(orders)]
            if not any(b is not None for b in batches):
                break
            packed = pack_batches(batches).to(device)
            results, norms = pack_step(pack, optimizer, packed, randomness, active, device, dtype, trains[0]["grad_clip"])
            keys = next(r for r in results if r is not None).keys()
            if guard is None:
                guard = Guard(names, keys, device, ceiling)
                sums = torch.zeros(len(members), len(guard.keys), dtype=torch.float64, device=device)
            values = torch.stack([torch.stack([r[key].double() for key in guard.keys]) if r is not None
                                  else torch.zeros(len(guard.keys), dtype=torch.float64, device=device)
                                  for r in results])
            guard.update(step, values, norms, packed.row_counts > 0)
            sums += values * packed.row_counts[:, None]
            counts += packed.rows
            if step % CHECK_EVERY == 0:
                for k, error in guard.read(epoch, step).items():
                    stop(k, error)
        if guard is not None:
            for k, error in guard.read(epoch, steps).items():
                stop(k, error)
        means = (sums / torch.tensor(np.maximum(counts, 1), device=device)[:, None]).tolist() if guard else None
        for k in range(len(members)):
            if not active[k]:
                continue
            metrics = {f"train/{key}": value for key, value in zip(guard.keys, means[k])}
            model = pack.member(k).eval()  # member k as its own model (no dropout: eval changes nothing else)
            with torch.no_grad(), autocast(device, dtype):
                metrics.update(validation_metrics(model, valid_split, trains[k], device))
            try:
                check_finite(metrics, f"{names[k]}: epoch {epoch + 1}, evaluation")
                check_not_diverging(names[k], histories[k], metrics, epoch)
            except TrainingError as error:
                stop(k, str(error))
                continue
            metrics["epoch"] = epoch + 1
            histories[k].append(metrics)
    scaler = torch.amp.GradScaler(device.type, enabled=False)
    finished = {}
    for k, (member, setup) in enumerate(zip(members, setups)):
        if not active[k]:
            finished[member.name] = errors[member.name]
            continue
        finished[member.name] = {
            "model": pack.member(k).state_dict(), "optimizer": optimizer.member_state(k, setup.model),
            "scaler": scaler.state_dict(), "history": histories[k], "epoch": epochs,
            "fingerprint": run_fingerprint(member.cfg, vocab_size, train_split, valid_split)}
    return finished
