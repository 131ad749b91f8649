"""The HexPlane VAE (paper Sec. 4.1)."""

from dynamiccity.vae.config import VAE_PRESETS, VAEConfig, vae_preset
from dynamiccity.vae.model import HexPlaneVAE, VAEOutput

__all__ = ["VAE_PRESETS", "HexPlaneVAE", "VAEConfig", "VAEOutput", "vae_preset"]
