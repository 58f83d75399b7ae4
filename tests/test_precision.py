import pytest
import torch
import yaml

from hsvae.data.corpora import download
from hsvae.data.preprocess import preprocess
from hsvae.data.splits import Split
from hsvae.core.device import (cpu_has_native_bf16, device_and_dtype, matmul_precision, resolve_graphs,
                               resolve_precision)
from hsvae.core.errors import UserError
from hsvae.pipeline.configs import stage_configs
from hsvae.pipeline.params import validate
from hsvae.training.pretrain import pretrain
from hsvae.training.settings import TrainSettings
from tests.pipeline_utils import ROOT, TINY, overlay


def test_precision_choices():
    cpu = torch.device("cpu")
    assert resolve_precision("fp32", cpu) is None
    assert resolve_precision("bf16", cpu) is torch.bfloat16
    assert resolve_precision("fp16", cpu) is torch.float16
    # auto: bf16 where the CPU multiplies bf16 in hardware (AMX, AVX512-BF16), fp32 elsewhere
    assert resolve_precision("auto", cpu) is (torch.bfloat16 if cpu_has_native_bf16() else None)
    assert resolve_precision("tf32", cpu) is None and not torch.backends.cuda.matmul.allow_tf32  # no global effect
    assert device_and_dtype(TrainSettings(device="cpu", precision="tf32")) == (cpu, None)
    assert device_and_dtype(TrainSettings(device="cpu", precision="bf16")) == (cpu, torch.bfloat16)
    assert not torch.backends.cuda.matmul.allow_tf32  # deciding sets nothing


def test_tf32_is_switched_on_only_while_a_tf32_stage_works():
    for precision, inside in (("tf32", True), ("fp32", False), ("bf16", False)):
        with matmul_precision(precision):
            assert torch.backends.cuda.matmul.allow_tf32 is inside and torch.backends.cudnn.allow_tf32 is inside
        assert not torch.backends.cuda.matmul.allow_tf32  # restored


def test_cuda_graphs_are_off_on_a_cpu_and_refused_when_asked_for():
    cpu = torch.device("cpu")
    assert resolve_graphs("auto", cpu) is False and resolve_graphs(False, cpu) is False
    with pytest.raises(UserError, match=r"^train.cuda_graphs = true: CUDA graphs need a CUDA device; use auto or false "
                                        r"on a CPU$"):
        resolve_graphs(True, cpu)


@pytest.mark.parametrize("name", ["vae", "hsvae"])
def test_bf16_training_reaches_the_fp32_reconstruction(tmp_path, name):
    params = overlay(yaml.safe_load((ROOT / "params.yaml").read_text()), TINY)
    params["train"].update(epochs=4)
    params = validate(params)
    download(params.data, 0, tmp_path / "raw", tmp_path / "cache")
    preprocess(tmp_path / "raw", tmp_path / "data", params.data, 0)
    vocab = len((tmp_path / "data/vocab.txt").read_text().splitlines())
    train, valid = Split(tmp_path / "data", "train"), Split(tmp_path / "data", "valid")
    final = {}
    for label, dtype in (("fp32", None), ("bf16", torch.bfloat16)):
        _, history = pretrain(stage_configs(params)[f"pretrain/{name}"], train, valid, vocab, torch.device("cpu"), dtype,
                              tmp_path / f"{label}.pt", progress=False)
        final[label] = history[-1]["valid/rec"]
        assert history[-1]["valid/rec"] < history[0]["valid/rec"]
    # bf16 keeps 8 bits of mantissa in the networks; losses and KLs are fp32: within 3 %
    assert final["bf16"] == pytest.approx(final["fp32"], rel=0.03)
