"""The authors' starting weights. Their models are Keras layers with Keras's initialisers, and
PyTorch's defaults differ in ways that change how a text VAE trains: `nn.Embedding` starts
N(0, 1), Keras's `Embedding` U(-0.05, 0.05) — with word vectors twenty times larger the decoder
learns the language model first and uses z half as much (docs/crosscheck.md). Every VAE's GRU
parts start as the authors' do, layer by layer:

- word embeddings: U(-0.05, 0.05) (Keras `Embedding`, default `uniform`);
- GRU input and recurrent weights: LeCun normal, i.e. N(0, 1/fan_in) truncated at two standard
  deviations and rescaled to keep that variance; biases zero (their `CuDNNGRU(kernel_initializer=
  'lecun_normal', recurrent_initializer='lecun_normal')`);
- every dense layer (the posterior heads, the decoder's output): Glorot uniform, bias zero (Keras
  `Dense`).

A pretrained BERT encoder keeps its weights.
"""
import math

import torch
from torch import nn

EMBEDDING_LIMIT = 0.05
# The standard deviation of N(0, 1) truncated at +-2: Keras divides by it so that the truncated
# draw keeps the variance 1/fan_in.
TRUNCATED_STD = 0.87962566103423978


def lecun_normal_(weight: torch.Tensor) -> torch.Tensor:
    """Keras's `lecun_normal` for a PyTorch weight (out, in): fan_in is its second dimension."""
    std = math.sqrt(1.0 / weight.shape[1]) / TRUNCATED_STD
    return nn.init.trunc_normal_(weight, 0.0, std, -2 * std, 2 * std)


@torch.no_grad()
def keras_init_(module: nn.Module, skip: nn.Module | None = None) -> nn.Module:
    """Re-initialise every embedding, GRU and linear layer of `module` (not those inside `skip`)
    as the authors' Keras layers start; returns `module`."""
    kept = {id(m) for m in skip.modules()} if skip is not None else set()
    for layer in module.modules():
        if id(layer) in kept:
            continue
        if isinstance(layer, nn.Embedding):
            nn.init.uniform_(layer.weight, -EMBEDDING_LIMIT, EMBEDDING_LIMIT)
            if layer.padding_idx is not None:
                layer.weight[layer.padding_idx] = 0  # padding is never read; PyTorch keeps it zero
        elif isinstance(layer, nn.GRU):
            for name, value in layer.named_parameters():
                if name.startswith("weight"):
                    lecun_normal_(value)
                else:
                    nn.init.zeros_(value)
        elif isinstance(layer, nn.Linear):
            nn.init.xavier_uniform_(layer.weight)
            if layer.bias is not None:
                nn.init.zeros_(layer.bias)
    return module
