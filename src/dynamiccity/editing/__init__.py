"""Editing real scenes with a trained DiT: inpainting, outpainting, and cities grown in x, y and t."""
