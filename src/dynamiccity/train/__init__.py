"""Training infrastructure shared by the VAE and the DiT: the loop, checkpoints, distributed set-up."""
