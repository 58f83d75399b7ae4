"""The `train` and `classify` sections of params.yaml: how the VAEs and the classifiers train."""
import re
from typing import Annotated, Literal

from pydantic import AfterValidator, Field

from hsvae.core.config import Real, Section


def _device(value: str) -> str:
    if value not in ("auto", "cpu", "cuda") and not re.fullmatch(r"cuda:\d+", value):
        raise ValueError("expected auto, cpu, cuda or cuda:N")
    return value


class TrainSettings(Section):
    seed: int = Field(0, ge=0, description="training seed: initialisation, batch order, sampling noise "
                      "(replicates differ only here; it never re-runs download or preprocess)")
    device: Annotated[str, AfterValidator(_device)] = Field("auto", description="auto (CUDA when present) | cpu | "
                                                            "cuda | cuda:N")
    precision: Literal["fp32", "tf32", "bf16", "fp16", "auto"] = Field(
        "fp32", description="fp32 | tf32 | bf16 | fp16 | auto: bf16 where the device multiplies it natively; losses "
        "and metrics stay fp32 (docs/performance.md)")
    cuda_graphs: Literal["auto", True, False] = Field(
        "auto", description="auto (on a CUDA device, GRU models) | true | false: training steps replayed as CUDA "
        "graphs")
    epochs: int = Field(10, ge=1, description="passes over the training split")
    batch_size: int = Field(64, ge=2, description="sentences per training batch (paper 256)")
    eval_batch_size: int = Field(256, ge=1, description="sentences per batch when a split is evaluated or encoded")
    lr: Real = Field(8e-4, gt=0, description="Adam's learning rate (paper); BERT-encoder models use bert_lr")
    bert_lr: Real = Field(8e-5, gt=0, description="Adam's learning rate of BERT-encoder models")
    grad_clip: Real = Field(5.0, ge=0, description="maximum gradient norm; 0 turns clipping off (the authors' code)")
    ce_chunk: int = Field(1024, ge=0, description="tokens per chunk of the fused vocabulary projection + "
                          "cross-entropy; 0: plain F.cross_entropy (slower on CPU and under CUDA graphs)")


class ClassifySettings(Section):
    """The classifier on the frozen codes (§4.2) and the supervised baselines' head."""
    samples: int = Field(5, ge=1, description="K: Monte Carlo samples of the latent variables, train and test")
    hidden: int = Field(32, ge=1, description="two dense layers of this size, LeakyReLU (§4.2)")
    epochs: int = Field(10, ge=1, description="passes over the training split")
    batch_size: int = Field(128, ge=1, description="sentences per batch")
    lr: Real = Field(1e-3, gt=0, description="Adam's learning rate")
