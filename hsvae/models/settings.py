"""The `arch` section of params.yaml: the networks every model shares (no torch: the data
stages read their settings without it)."""
from pydantic import Field

from hsvae.core.config import Section


class ArchSettings(Section):
    """The networks every model shares (the `arch` section)."""
    embedding_dim: int = Field(64, ge=1, description="word embeddings, shared by encoder and decoder (paper 256)")
    hidden_dim: int = Field(128, ge=1, description="GRU encoder and decoder (paper 512)")
    latent_dim: int = Field(32, ge=2, description="dimensions of z (paper 32 or 768; Average Hoyer needs two)")
    bert: str = Field("bert-base-uncased", description="name or local path, for b_vae, b_hsvae and the bert "
                      "baseline")
