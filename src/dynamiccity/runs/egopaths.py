"""The ego paths of a DiT that generates windows in world coordinates (`LatentManifest.coordinates`).

Such a DiT draws a still world seen from the ego of a window's first frame; the window is shown by moving
that world along an ego path (`data.egoframe.to_ego`). The path is the requested trajectory when there is
one; otherwise it is drawn from the paths of the DiT's training windows (those of the requested command
when one is named), which the run keeps beside its checkpoints (`EGO_PATHS`), so a generated scene's ego
drives as the data's egos do. RUN_DIR/ego_paths.json: {"paths": (N, T, 3) x, y, yaw, "commands": (N,)}.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

import numpy as np

from dynamiccity.data.derive import Command

EGO_PATHS = "ego_paths.json"


@dataclass(frozen=True)
class EgoPaths:
    """Ego paths (N, T, 3) of training windows and their commands (N,)."""

    paths: np.ndarray
    commands: np.ndarray

    def __post_init__(self) -> None:
        if self.paths.ndim != 3 or self.paths.shape[2] != 3 or len(self.paths) != len(self.commands):
            raise ValueError(
                f"ego paths must be (N, T, 3) with N commands, got {self.paths.shape} and {self.commands.shape}."
            )
        if len(self.paths) == 0:
            raise ValueError("no ego paths: the training windows had no poses.")

    @classmethod
    def of_windows(cls, trajectories: np.ndarray, commands: np.ndarray) -> EgoPaths:
        """The paths of the windows that have poses (finite trajectory, a command)."""
        known = np.isfinite(trajectories).reshape(len(trajectories), -1).all(1) & (commands >= 0)
        return cls(trajectories[known].astype(np.float32), commands[known].astype(np.int64))

    def draw(self, command: int | None, rng: np.random.Generator) -> tuple[np.ndarray, int]:
        """One path (T, 3) and its command, drawn among the paths of `command` when given: those the data
        labels so whose whole window shows it too (`metrics.egomotion.window_command`; the data's label
        turns LEFT or RIGHT at a single turning step, so a window that ends within 0.1 rad of straight can be
        labelled a turn)."""
        pool = np.arange(len(self.paths))
        if command is not None:
            pool = np.flatnonzero((self.commands == command) & (self.shown == command))
        if len(pool) == 0:
            raise ValueError(f"the DiT's training windows hold no {Command(command).name} path to draw from.")
        i = int(rng.choice(pool))
        return self.paths[i], int(self.commands[i])

    @cached_property
    def shown(self) -> np.ndarray:
        """(N,) the command each path's whole window shows (`metrics.egomotion.window_command`)."""
        from dynamiccity.metrics.egomotion import window_command

        return np.array([int(window_command(p)) for p in self.paths], dtype=np.int64)

    def to_json(self) -> str:
        return (
            json.dumps({"paths": np.round(self.paths, 4).tolist(), "commands": self.commands.tolist()}) + "\n"
        )

    @classmethod
    def read(cls, run_dir: str | Path) -> EgoPaths:
        path = Path(run_dir) / EGO_PATHS
        if not path.is_file():
            raise FileNotFoundError(
                f"{path}: missing; a DiT of world-coordinate latents keeps its ego paths there."
            )
        try:
            data = json.loads(path.read_text())
            return cls(np.asarray(data["paths"], np.float32), np.asarray(data["commands"], np.int64))
        except (json.JSONDecodeError, KeyError, TypeError, ValueError) as err:
            raise ValueError(f"{path}: not a valid ego-path file ({err}).") from err
