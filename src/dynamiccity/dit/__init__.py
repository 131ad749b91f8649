"""The HexPlane diffusion transformer (paper Sec. 4.2)."""

from dynamiccity.dit.config import DIT_PRESETS, DiTConfig, dit_preset
from dynamiccity.dit.model import HexPlaneDiT

__all__ = ["DIT_PRESETS", "DiTConfig", "HexPlaneDiT", "dit_preset"]
