"""SynthTown: procedural 4D semantic occupancy of driving scenes (DESIGN.md, Data).

    from dynamiccity.synthtown import generate_scene, SynthConfig
    scene = generate_scene(seed=0, frames=16)  # CarlaSC's 128 x 128 x 8 grid at 10 Hz

A scene has a road layout (straight, curve, T-junction, crossroads) with lanes, sidewalks, buildings,
vegetation, poles, barriers and parked cars; vehicles that follow lanes, keep their distance and stop at
red lights; pedestrians and bicycles; and an ego that is static, drives forward, or turns left or right.
"""

from dynamiccity.synthtown.config import COMMANDS, LAYOUTS, SynthConfig
from dynamiccity.synthtown.generator import generate_scene

__all__ = ["COMMANDS", "LAYOUTS", "SynthConfig", "generate_scene"]
