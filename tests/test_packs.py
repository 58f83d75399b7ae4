"""Packs (hsvae/models/packed.py, hsvae/training/pack.py): the batched GRU is nn.GRU, members
never mix, one pack step is each member's own step, and a failing member stops alone."""
import copy

import numpy as np
import pytest
import torch

from hsvae.data.batching import collate
from hsvae.data.splits import Split
from hsvae.models.packed import MemberRandomness, Pack, gru_layer, pack_batches
from hsvae.models.registry import build_vae
from hsvae.training.pack import Member, StackedAdam, pack_step, pretrain_pack
from hsvae.training.pretrain import training_setup, validation_metrics
from hsvae.training.step import make_step
from hsvae.training.train import fit
from tests.conftest import ARCH, HPARAMS

CPU = torch.device("cpu")


def stacked_grus(k=3, inputs=5, hidden=7, seed=0):
    torch.manual_seed(seed)
    grus = [torch.nn.GRU(inputs, hidden, batch_first=True) for _ in range(k)]
    weights = [torch.stack([getattr(g, f"{w}_l0").detach() for g in grus]).requires_grad_()
               for w in ("weight_ih", "weight_hh", "bias_ih", "bias_hh")]
    return grus, weights


def test_the_batched_gru_is_nn_gru_forward_and_backward():
    grus, weights = stacked_grus()
    x = torch.randn(3, 4, 6, 5)
    out = gru_layer(x, *weights)
    upstream = torch.randn_like(out)
    (out * upstream).sum().backward()
    for k, gru in enumerate(grus):
        expected, _ = gru(x[k])
        assert torch.allclose(out[k], expected, rtol=1e-5, atol=1e-6)
        (expected * upstream[k]).sum().backward()
        for stacked, name in zip(weights, ("weight_ih", "weight_hh", "bias_ih", "bias_hh")):
            assert torch.allclose(stacked.grad[k], getattr(gru, f"{name}_l0").grad, rtol=1e-5, atol=1e-6)


def test_members_are_independent_to_the_bit():
    _, weights = stacked_grus()
    x = torch.randn(3, 4, 6, 5)
    before = gru_layer(x, *weights).detach()
    changed = [w.detach().clone() for w in weights]
    for w in changed:
        w[2] += torch.randn_like(w[2])
    after = gru_layer(x, *changed)
    assert torch.equal(after[:2], before[:2]) and not torch.equal(after[2], before[2])


def batches_of(seed, sizes):
    """Batches of different rows and lengths, as members' batch orders differ."""
    rng = np.random.default_rng(seed)
    return [collate([rng.integers(3, 30, size=rng.integers(1, 10)) for _ in range(n)], np.zeros(n)) for n in sizes]


MEMBERS = {  # (seed, hparams) per member: different seeds and different priors or weights
    "hsvae": [(0, {"alpha": 1.0, "beta": 4.0}), (1, {"alpha": 4.0}), (2, {"alpha": 19.0, "lambda": 0.5})],
    "mat_vae": [(0, {}), (1, {"psi": 0.1, "lambda": 1.0}), (2, {"gamma": 0.5})],
    "vae_l1": [(0, {}), (1, {"weight": 0.1}), (2, {"psi": 1.0})],
}


# On a GPU too (its random streams are other generators); cuDNN's GRU in full fp32 there.
DEVICES = ["cpu", *(["cuda"] if torch.cuda.is_available() else [])]


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("name", sorted(MEMBERS))
@pytest.mark.parametrize("ce_chunk", [0, 64])
def test_pack_steps_are_the_members_own_steps(name, ce_chunk, device, monkeypatch):
    monkeypatch.setattr(torch.backends.cudnn, "allow_tf32", False)
    device = torch.device(device)
    members = MEMBERS[name]
    lrs, clip = [1e-3, 3e-3, 1e-2], 1.0  # small enough that some members' gradients are clipped
    models = []
    for seed, hparams in members:
        torch.manual_seed(seed)
        models.append(build_vae(name, 30, ARCH, {**HPARAMS[name], **hparams}, ce_chunk=ce_chunk).to(device))
    pack = Pack([copy.deepcopy(m) for m in models])
    # Adam divides each gradient by its own running size: an element whose gradient is at
    # rounding level (1e-9 here, 1e-5 relative to the largest) may step by up to lr either way.
    # A larger eps keeps the comparison to what the pack computes; the Adam test below
    # checks the update at the default eps on identical gradients.
    optimizer = StackedAdam(pack.weights, lrs, eps=1e-3)
    randomness = MemberRandomness(device)
    batches = [[b.to(device) for b in batches_of(seed, [6, 4][::1 if seed % 2 else -1])] for seed, _ in members]
    for k, (seed, _) in enumerate(members):
        randomness.seed(k, seed * 100_003)
    packed = [pack_step(pack, optimizer, pack_batches([b[step].to("cpu") for b in batches]).to(device), randomness,
                        [True] * 3, device, None, clip)[0] for step in range(2)]
    clipped = 0
    for k, ((seed, _), model) in enumerate(zip(members, models)):
        optimizer = torch.optim.Adam(model.parameters(), lr=lrs[k], eps=1e-3)
        run_step = make_step(model.loss_terms, optimizer, device, grad_clip=clip)
        torch.manual_seed(seed * 100_003)
        for step in range(2):
            values, norm = run_step(batches[k][step])
            clipped += float(norm) > clip
            for key, value in values.items():
                # abs: the MMD estimate is a difference of kernel means that cancel, so its rounding
                # is that of the means (on an H200 one member's differed by more than 1e-6)
                assert float(packed[step][k][key].detach()) == pytest.approx(float(value), rel=1e-5, abs=1e-5), (
                    k, step, key)
        # weights to 1e-5 relative, or within a thousandth of one learning-rate step (on CUDA
        # the reductions' order differs: gaps of up to 4e-7 measured on an H200)
        for key, value in model.state_dict().items():
            found = pack.member(k).state_dict()[key]
            gap = float(((found - value).abs() - 1e-5 * value.abs()).max())
            assert torch.allclose(found, value, rtol=1e-5, atol=1e-3 * lrs[k]), (k, key, f"gap {gap:.3g}")
    assert clipped > 0


def test_stacked_adam_is_torch_adam_for_each_member_and_leaves_a_resting_member_alone():
    torch.manual_seed(0)
    weights = [torch.nn.Parameter(torch.randn(3, 4, 5)), torch.nn.Parameter(torch.randn(3, 6))]
    own = [[torch.nn.Parameter(w[k].detach().clone()) for w in weights] for k in range(3)]
    lrs = [1e-3, 1e-2, 0.1]
    stacked = StackedAdam(weights, lrs)
    optimizers = [torch.optim.Adam(own[k], lr=lrs[k]) for k in range(3)]
    for step in range(3):
        stepping = torch.tensor([True, step != 1, True])  # member 1 rests at step 1
        for w in weights:
            w.grad = torch.randn_like(w) * 10.0 ** -step
        for k in range(3):
            if stepping[k]:
                for p, w in zip(own[k], weights):
                    p.grad = w.grad[k].clone()
                optimizers[k].step()
        stacked.step(stepping)
    for k in range(3):
        for p, w in zip(own[k], weights):
            assert torch.allclose(w[k], p, rtol=1e-6, atol=1e-7)
        restored = torch.optim.Adam(own[k], lr=lrs[k])
        restored.load_state_dict(stacked.member_state(k, torch.nn.ParameterList(own[k])))
        assert float(restored.state[own[k][0]]["step"]) == (2 if k == 1 else 3)
        assert torch.allclose(restored.state[own[k][0]]["exp_avg_sq"], optimizers[k].state[own[k][0]]["exp_avg_sq"])


def write_split(folder, name, n, seed):
    rng = np.random.default_rng(seed)
    sentences = [rng.integers(3, 30, size=rng.integers(1, 9)) for _ in range(n)]
    offsets = np.concatenate([[0], np.cumsum([len(s) for s in sentences])])
    np.savez(folder / f"{name}.npz", tokens=np.concatenate(sentences), offsets=offsets, labels=rng.integers(0, 3, n))
    (folder / f"{name}.txt").write_text("\n".join(" ".join(map(str, s)) for s in sentences) + "\n")
    return Split(folder, name)


def stage_config(name, seed, hparams, epochs=2):
    train = {"seed": seed, "epochs": epochs, "batch_size": 16, "eval_batch_size": 64, "lr": 3e-3, "bert_lr": 1e-4,
             "grad_clip": 5.0, "ce_chunk": 0, "cuda_graphs": False}
    return {"name": name, "arch": ARCH, "train": train, "hparams": {**HPARAMS[name], **hparams}}


@pytest.fixture
def splits(tmp_path):
    (tmp_path / "classes.txt").write_text("a b c\n")
    return write_split(tmp_path, "train", 120, 0), write_split(tmp_path, "valid", 30, 1)


def test_a_pack_leaves_each_member_the_checkpoint_of_its_own_finished_run(splits):
    train, valid = splits
    members = [Member(f"run{seed}", stage_config("hsvae", seed, {"alpha": alpha})) for seed, alpha in ((0, 1.0), (1, 8.0))]
    finished = pretrain_pack(members, train, valid, 30, CPU, None, progress=False)
    for member in members:
        cfg, saved = member.cfg, finished[member.name]
        setup = training_setup(cfg, train, 30, CPU, None)
        alone = fit(name=member.name, model=setup.model, optimizer=setup.optimizer, terms=setup.model.loss_terms,
                    batches=setup.batches, load=setup.load, epochs=2, seed=cfg["train"]["seed"], device=CPU,
                    evaluate=lambda: validation_metrics(setup.model, valid, cfg["train"], CPU), grad_clip=5.0,
                    progress=False)
        assert saved["epoch"] == 2 and len(saved["history"]) == 2
        for packed_epoch, own_epoch in zip(saved["history"], alone):
            for key, value in own_epoch.items():  # two epochs of float reordering: the step test's 1e-5 grows
                assert packed_epoch[key] == pytest.approx(value, rel=1e-4), key
        assert set(saved["history"][0]) == set(alone[0]) and "valid/ah_sample" in alone[0]
        # the stage resumes it as its own finished run: the optimizer state loads into its own Adam
        setup.optimizer.load_state_dict(saved["optimizer"])
        state = setup.optimizer.state[next(iter(setup.model.parameters()))]
        assert float(state["step"]) == 2 * 8  # 120 sentences in batches of 16, two epochs


def test_a_member_that_fails_is_stopped_by_name_and_the_others_finish(splits):
    train, valid = splits
    members = [Member("good", stage_config("vae", 0, {})), Member("bad", stage_config("vae", 1, {"psi": 1e38})),
               Member("also-good", stage_config("vae", 2, {"psi": 0.5}))]
    finished = pretrain_pack(members, train, valid, 30, CPU, None, progress=False)
    assert finished["bad"] == "bad: epoch 1, step 1: gradient is not finite"
    for name in ("good", "also-good"):
        assert finished[name]["epoch"] == 2
        assert all(np.isfinite(v) for epoch in finished[name]["history"] for v in epoch.values())
