"""HSVAE: sparse sentence encoding with a hierarchical spike-and-slab VAE."""
