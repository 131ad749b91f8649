"""Conditions for sampling, from what a user has: a command's name, a trajectory or layout file, a scene of a
dataset (its layout, one of its frames, its first window to extend from). Each input is checked against the
DiT it is for, with one sentence naming what was expected."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from dynamiccity.data.derive import Command, bev_layout, ego_trajectory
from dynamiccity.data.egoframe import anchored, held, is_world, to_world, world_anchor
from dynamiccity.data.scene import GridSpec
from dynamiccity.dit.conditions import Conditions
from dynamiccity.runs.datasets import DataSpec, check_grid, open_windows, read_as_run
from dynamiccity.runs.loading import Trained, TrainedDiT
from dynamiccity.runs.vae import VAERunConfig
from dynamiccity.vae.model import HexPlaneVAE
from dynamiccity.vae.refine import encode_window

COMMANDS = tuple(c.name.lower() for c in Command)


@dataclass(frozen=True)
class ConditionRequest:
    """What to condition on, as a user names it; None leaves a condition out (its null condition).

    command: one of `COMMANDS`. trajectory: an .npy file (T, 2) or (T, 3) of ego x, y (, yaw) per frame in
    the first frame's ego frame. layout: an .npy file (T, X/d, Y/d) of the vehicles' bird's-eye map per
    frame; layout_from: a scene of `data` whose first window's layout to use. single_frame: "SCENE:FRAME",
    that frame of a scene of `data` as the observed frame. data: the dataset scenes are named in.
    """

    command: str | None = None
    trajectory: str | Path | None = None
    layout: str | Path | None = None
    layout_from: str | None = None
    single_frame: str | None = None
    condition_scene: str | None = None
    data: DataSpec | None = None

    def __post_init__(self) -> None:
        if self.layout is not None and self.layout_from is not None:
            raise ValueError("give a layout file or a scene to take the layout from, not both.")

    @property
    def empty(self) -> bool:
        return all(v is None for v in (self.command, self.trajectory, self.layout, self.layout_from,
                                       self.single_frame))  # fmt: skip


Models = tuple[TrainedDiT, Trained[HexPlaneVAE, VAERunConfig]]


@dataclass(frozen=True)
class Start:
    """A real window that scenes begin with: its labels (T, X, Y, Z) as recorded, in ego coordinates, and
    its ego path (T, 3) in its first frame's ego frame, which a DiT of world coordinates needs (None when
    nothing needs it)."""

    labels: np.ndarray
    path: np.ndarray | None = None

    def still(self, grid: GridSpec, anchor: int = 0, world: GridSpec | None = None) -> np.ndarray:
        """The window (on `grid`) seen from the ego of its frame `anchor` throughout (`to_world`), on the
        `world` grid (default: `grid`), as a world-coordinate DiT's are."""
        if self.path is None:
            raise ValueError("a real window seen from one ego pose needs its ego path; none was read.")
        wide = world or grid
        path = anchored(self.path, anchor)
        return to_world(self.labels, path, grid.extent, fill_back=True, world=(wide.shape, wide.extent))

    def seen_by(self, dit: TrainedDiT) -> np.ndarray:
        """The window as `dit`'s windows are: still for a DiT of world coordinates, else as recorded."""
        coordinates = dit.manifest.coordinates
        if not is_world(coordinates):
            return self.labels
        manifest = dit.manifest
        return self.still(manifest.grid, world_anchor(coordinates, manifest.frames), manifest.world_grid)


def build_conditions(
    request: ConditionRequest, models: Models, device: torch.device | str = "cpu"
) -> Conditions:
    """The `Conditions` (batch 1) that `request` names, in the DiT's units, on `device`."""
    dit, vae = models
    cfg = dit.config.model
    given: dict[str, torch.Tensor] = {}
    if request.command is not None:
        given["command"] = torch.tensor([command_index(request.command)])
    if request.trajectory is not None:
        given["trajectory"] = torch.from_numpy(_trajectory(request.trajectory, cfg.frames))[None]
    if request.layout is not None:
        given["layout"] = torch.from_numpy(_layout(request.layout, cfg.frames, cfg.layout_grid))[None]
    if request.layout_from is not None:
        labels = scene_window(request.data, request.layout_from, 0, cfg.frames, vae)
        if is_world(dit.manifest.coordinates):  # the layout where the DiT's windows are seen from
            path = scene_path(request.data, request.layout_from, 0, cfg.frames, vae)
            labels = Start(labels, path).seen_by(dit)
        given["layout"] = torch.from_numpy(bev_layout(labels, dit.manifest.layout_factor))[None]
    if request.single_frame is not None:
        scene, frame = _scene_frame(request.single_frame)
        labels = scene_window(request.data, scene, frame, 1, vae)[0]
        grid, world = dit.manifest.grid, dit.manifest.world_grid  # as the encoding held it
        frames = held(labels, cfg.frames, (grid.shape, grid.extent), (world.shape, world.extent))
        given["frame"] = encode_map(models, frames, device)
    return Conditions(**given).to(device)


def requested(
    request: ConditionRequest | None, models: Models, device: torch.device | str = "cpu"
) -> tuple[Conditions | None, Start | None]:
    """The conditions a request names (None when it names none) and the window scenes start from."""
    request = request or ConditionRequest()
    cond = None if request.empty else build_conditions(request, models, device)
    return cond, start_window(request, models)


def start_window(request: ConditionRequest, models: Models) -> Start | None:
    """The first window of the request's `condition_scene`, or None."""
    if request.condition_scene is None:
        return None
    return scene_start(request.data, request.condition_scene, models)


def scene_start(data: DataSpec | None, scene: str, models: Models) -> Start:
    """The first window of scene `scene` of `data`, with its ego path for a DiT of world coordinates."""
    dit, vae = models
    frames = dit.manifest.frames
    labels = scene_window(data, scene, 0, frames, vae)
    if not is_world(dit.manifest.coordinates):
        return Start(labels)
    return Start(labels, scene_path(data, scene, 0, frames, vae))


def command_index(name: str) -> int:
    if name.lower() not in COMMANDS:
        raise ValueError(f"unknown command {name!r}; choose one of {', '.join(COMMANDS)}.")
    return COMMANDS.index(name.lower())


def _load_npy(path: str | Path, what: str) -> np.ndarray:
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such {what} file.")
    try:
        return np.load(path, allow_pickle=False)
    except (ValueError, OSError, EOFError) as err:
        raise ValueError(f"{path}: not a readable .npy {what} ({err}).") from err


def _trajectory(path: str | Path, frames: int) -> np.ndarray:
    array = _load_npy(path, "trajectory")
    if array.ndim != 2 or array.shape[0] != frames or array.shape[1] not in (2, 3):
        raise ValueError(f"{path}: a trajectory must be ({frames}, 2) or ({frames}, 3), got {array.shape}.")
    if not np.issubdtype(array.dtype, np.number) or not np.isfinite(array[:, :2]).all():
        raise ValueError(f"{path}: a trajectory must hold finite numbers.")
    return array.astype(np.float32)


def _layout(path: str | Path, frames: int, grid: tuple[int, int]) -> np.ndarray:
    array = _load_npy(path, "layout")
    if array.shape != (frames, *grid):
        raise ValueError(f"{path}: a layout must be ({frames}, {grid[0]}, {grid[1]}), got {array.shape}.")
    if not (array.dtype == bool or np.isin(array, (0, 1)).all()):
        raise ValueError(f"{path}: a layout must be boolean (0 or 1 per cell).")
    return array.astype(bool)


def _scene_frame(text: str) -> tuple[str, int]:
    scene, sep, frame = text.rpartition(":")
    if not sep or not scene or not frame.isdigit():
        raise ValueError(f"single frame {text!r}: expected SCENE:FRAME, e.g. scene_0003:0.")
    return scene, int(frame)


def scene_window(
    data: DataSpec | None, scene: str, start: int, frames: int, vae: Trained[HexPlaneVAE, VAERunConfig]
) -> np.ndarray:
    """Frames start..start+frames (frames, X, Y, Z) of scene `scene` of `data`, on the VAE's grid."""
    windows, info = _find(data, scene, start, frames, vae)
    labels, _ = windows.reader.read_frames(info, start, start + frames)
    return labels


def scene_path(
    data: DataSpec | None, scene: str, start: int, frames: int, vae: Trained[HexPlaneVAE, VAERunConfig]
) -> np.ndarray:
    """The ego path (frames, 3) of the frames `scene_window` reads, in the ego frame of the first of them."""
    windows, info = _find(data, scene, start, frames, vae)
    poses = windows.reader.read_poses(info)
    if poses is None:
        raise ValueError(f"{data.path}: scene {scene} has no ego poses, which world coordinates need.")
    return ego_trajectory(poses[start : start + frames])


def _find(
    data: DataSpec | None, scene: str, start: int, frames: int, vae: Trained[HexPlaneVAE, VAERunConfig]
):
    """The dataset's windows and the `SceneInfo` of `scene`, checked to hold frames start..start+frames."""
    if data is None:
        raise ValueError(f"scene {scene!r} named, but no dataset to find it in (--data).")
    windows = open_windows(read_as_run(data, vae.config.data), 1)
    check_grid(windows, vae.model.cfg)
    names = [s.name for s in windows.scenes]
    if scene not in names:
        shown = ", ".join(names[:5]) + (", ..." if len(names) > 5 else "")
        raise ValueError(f"{data.path}: no scene {scene!r} (scenes: {shown}).")
    info = windows.scenes[names.index(scene)]
    if start < 0 or start + frames > info.num_frames:
        raise ValueError(
            f"{data.path}: scene {scene} has {info.num_frames} frames; frames {start}..{start + frames - 1} "
            "were asked for."
        )
    return windows, info


@torch.no_grad()
def encode_map(models: Models, labels: np.ndarray, device: torch.device | str = "cpu") -> torch.Tensor:
    """A window (T, X, Y, Z) -> its HexPlane as the DiT sees it: encoded (and refined, when the DiT's latents
    were: `LatentManifest.refine`), normalised, rolled out (1, C, H, W)."""
    dit, vae = models
    tensor = torch.from_numpy(np.ascontiguousarray(labels))[None].to(device)
    hexplane = encode_window(vae.model, tensor, refine=dit.manifest.refinement())
    normalised = hexplane.map(dit.manifest.normalise)
    return dit.model.rollout.roll(normalised)
