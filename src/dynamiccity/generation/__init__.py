"""Generating scenes with a trained DiT and its VAE: how to sample, requests and conditions, steering objectives,
a world-coordinate DiT's worlds shown along ego paths, and `generate` itself."""
