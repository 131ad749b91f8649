"""The latent artifact of `dynamiccity encode`: shards of HexPlanes with their conditions, and the manifest
that says what made them. Written and read here only.

LATENT_DIR/shard_XXXXX.safetensors: planes xy..tz (N, C, ...) float32, command (N,) int64, trajectory
(N, T, 3) float32, layout (N, T, X/d, Y/d) uint8, scene (N,), start (N,), and frame_xy..frame_tz: the
HexPlane of the window's first frame alone (held for T frames), the single-frame condition.
LATENT_DIR/manifest.json: `LatentManifest` as JSON.

A window's previous window (the one T frames earlier in its scene) is found by (scene, start), in whatever
subset of splits is loaded. A set in world coordinates stores it instead, seen from the window's own first
frame (`PREVIOUS` planes and `has_previous`): the previous window's world, moved to where the ego now is.
Sets written by earlier versions lack the frame planes and carry a `previous` column of indices over all
splits; it is not used.
"""

from __future__ import annotations

import json
from dataclasses import MISSING, asdict, dataclass, fields
from pathlib import Path
from typing import Any

import torch

from dynamiccity.atomic import write_text
from dynamiccity.data.scene import GridSpec
from dynamiccity.hexplane import PLANES, HexPlane
from dynamiccity.train.checkpoint import file_sha256
from dynamiccity.vae.config import VAEConfig
from dynamiccity.vae.refine import Refinement

CONDITIONS = ("command", "trajectory", "layout", "scene", "start")
FRAME = "frame_"
"""Prefix of the single-frame planes' names in a shard."""
PREVIOUS = "previous_"
"""Prefix of the previous window's planes: stored in a shard of a world-coordinate set, and in an item."""
MANIFEST = "manifest.json"


@dataclass(frozen=True)
class LatentManifest:
    """What a latent set holds and what made it.

    latent_mean, latent_std: per-channel statistics over every plane cell of every window; the DiT works on
    z = (latent - mean) / std. vae_sha256: hash of the VAE checkpoint that encoded the set, so that only
    that VAE decodes what a DiT trained on it generates. grid: the voxel grid of the encoded data, on which
    scenes are shown; world_margin: voxels a side by which the grid that windows in world coordinates are
    laid on is wider (`world_grid`, the VAE's grid: `WindowDataset.world_grid`).
    scenes: [{"name", "split"}] in the order the shards' `scene` column indexes them.
    poses: whether every scene had ego poses (without, windows carry no command or trajectory).
    frame_planes: whether the shards hold single-frame HexPlanes (`FRAME` planes).
    refine: how every encoding was refined on its window (`vae.refine.Refinement` as a dict; None: the
    encoder's latents as they are); whatever encodes a window for a DiT trained on the set does the same.
    coordinates: one of `COORDINATES`; windows and layouts in "world" are seen from each window's first
    frame ("centred": its middle frame, `egoframe.world_anchor`), and what a DiT trained on them generates
    is moved along an ego path before it is shown.
    previous_planes: whether the shards hold each window's previous window (`PREVIOUS` planes, seen from
    where the window is seen from, and `has_previous`) rather than leaving it to be found by (scene, start).
    """

    vae_run: str
    vae_checkpoint: str
    vae_sha256: str
    vae_config: VAEConfig
    latent_mean: tuple[float, ...]
    latent_std: tuple[float, ...]
    planes: tuple[str, ...]
    windows: int
    frames: int
    stride: int
    layout_factor: int
    grid: GridSpec
    shards: tuple[str, ...]
    shard_size: int
    data: dict[str, str]
    scenes: tuple[dict[str, str], ...]
    poses: bool = True
    frame_planes: bool = False
    refine: dict[str, Any] | None = None
    coordinates: str = "ego"
    previous_planes: bool = False
    world_margin: int = 0

    @property
    def world_grid(self) -> GridSpec:
        """The grid the DiT's windows are drawn on: `grid`, widened by `world_margin` in world coordinates."""
        return self.grid.widened(self.world_margin)

    @property
    def channels(self) -> int:
        return len(self.latent_mean)

    @property
    def sizes(self) -> tuple[int, int, int, int]:
        """(T', X', Y', Z') of the HexPlanes."""
        return self.vae_config.latent_grid

    def to_dict(self) -> dict[str, Any]:
        out = {f.name: getattr(self, f.name) for f in fields(self)}
        out["vae_config"] = self.vae_config.to_dict()
        out["grid"] = asdict(self.grid)
        return out

    @classmethod
    def from_dict(cls, data: dict[str, Any], source: str | Path) -> LatentManifest:
        missing = [f.name for f in fields(cls) if f.name not in data and f.default is MISSING]
        if missing:
            raise ValueError(f"{source}: the latent manifest lacks {missing[0]!r}.")
        values = {f.name: data[f.name] for f in fields(cls) if f.name in data}
        grid = values["grid"]
        values["grid"] = GridSpec(tuple(grid["shape"]), tuple(grid["extent"]), float(grid["hz"]))
        values["vae_config"] = VAEConfig.from_dict(values["vae_config"])
        for key in ("latent_mean", "latent_std", "planes", "shards", "scenes"):
            values[key] = tuple(values[key])
        return cls(**values)

    def write(self, root: str | Path) -> None:
        write_text(Path(root) / MANIFEST, json.dumps(self.to_dict(), indent=1) + "\n")

    def refinement(self) -> Refinement | None:
        """The `Refinement` the set was encoded with (None: none; a manifest from before `lovasz_bins`
        existed was refined with an exact sort)."""
        return None if self.refine is None else Refinement(**{"lovasz_bins": None, **self.refine})

    def check_vae(self, checkpoint: str | Path) -> None:
        """Refuse a VAE checkpoint other than the one that encoded this set (sha256 differs)."""
        if file_sha256(checkpoint) != self.vae_sha256:
            raise ValueError(
                f"{checkpoint}: not the VAE checkpoint that encoded these latents "
                f"({self.data['path']}; sha256 differs)."
            )

    def _stats(self, device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
        mean = torch.tensor(self.latent_mean, dtype=torch.float32, device=device).view(1, -1, 1, 1)
        std = torch.tensor(self.latent_std, dtype=torch.float32, device=device).clamp_min(1e-6)
        return mean, std.view(1, -1, 1, 1)

    def normalise(self, plane: torch.Tensor) -> torch.Tensor:
        """A plane (N, C, U, V) of encoder output -> the DiT's units, z = (latent - mean) / std."""
        mean, std = self._stats(plane.device)
        return (plane - mean) / std

    def denormalise(self, hexplane: HexPlane) -> HexPlane:
        """Undo `normalise` on every plane: latent = z * std + mean."""
        mean, std = self._stats(hexplane.xy.device)
        return hexplane.map(lambda p: p * std + mean)


def read_manifest(path: str | Path) -> LatentManifest:
    """The manifest of LATENT_DIR (or a manifest file), with a clear error when it is missing or broken."""
    path = Path(path)
    if path.is_dir() or not path.suffix:
        path = path / MANIFEST
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no latent manifest (run `dynamiccity encode` first).")
    try:
        data = json.loads(path.read_text())
    except json.JSONDecodeError as err:
        raise ValueError(f"{path}: not valid JSON ({err.msg}).") from err
    return LatentManifest.from_dict(data, path)


class LatentSet:
    """Every window of LATENT_DIR in memory; item i -> dict of normalised planes and its conditions.

    `splits` keeps the windows of scenes in those splits (None: all). Planes are normalised with the
    manifest's per-channel statistics (`LatentManifest.normalise`). An item holds its planes (`xy`..),
    its conditions, `previous_xy`.. (the planes of the window T frames earlier in its scene; zeros where
    there is none) with `has_previous`, and `frame_xy`.. when the set holds single-frame planes.
    """

    def __init__(self, root: str | Path, splits: tuple[str, ...] | None = None) -> None:
        self.root = Path(root)
        self.manifest = read_manifest(self.root)
        tensors = self._load_shards()
        keep = torch.ones(tensors["command"].shape[0], dtype=torch.bool)
        if splits is not None:
            scene_split = [s["split"] for s in self.manifest.scenes]
            keep = torch.tensor([scene_split[int(s)] in splits for s in tensors["scene"]], dtype=torch.bool)
        names = [*PLANES, *(FRAME + n for n in PLANES if self.manifest.frame_planes)]
        self.planes = {n: self.manifest.normalise(tensors[n][keep]) for n in names}
        self.conditions = {k: tensors[k][keep] for k in CONDITIONS}
        self.stored_previous: dict[str, torch.Tensor] | None = None  # world coordinates: stored, as seen from
        if self.manifest.previous_planes:  # each window's first frame; else found by (scene, start)
            self.has_previous = tensors["has_previous"][keep].bool()
            mask = self.has_previous.view(-1, 1, 1, 1)
            self.stored_previous = {
                n: self.manifest.normalise(tensors[PREVIOUS + n][keep]) * mask for n in PLANES
            }
        else:
            self.previous_row = self._previous_rows()
            self.has_previous = self.previous_row >= 0

    def _previous_rows(self) -> torch.Tensor:
        """(N,) row of each window's previous window (same scene, start - T), -1 where it is not loaded."""
        rows = {
            (int(s), int(t)): i
            for i, (s, t) in enumerate(zip(self.conditions["scene"], self.conditions["start"], strict=True))
        }
        frames = self.manifest.frames
        return torch.tensor([rows.get((s, t - frames), -1) for s, t in rows], dtype=torch.int64)

    def _load_shards(self) -> dict[str, torch.Tensor]:
        from safetensors import SafetensorError
        from safetensors.torch import load_file

        parts: dict[str, list[torch.Tensor]] = {}
        for name in self.manifest.shards:
            path = self.root / name
            if not path.is_file():
                raise FileNotFoundError(f"{path}: latent shard listed in the manifest is missing.")
            try:
                shard = load_file(str(path))
            except (SafetensorError, OSError) as err:
                raise ValueError(f"{path}: unreadable latent shard ({err}).") from err
            frame = [FRAME + n for n in PLANES] if self.manifest.frame_planes else []
            if self.manifest.previous_planes:
                frame += [PREVIOUS + n for n in PLANES] + ["has_previous"]
            missing = [k for k in (*PLANES, *CONDITIONS, *frame) if k not in shard]
            if missing:
                raise ValueError(f"{path}: latent shard lacks {missing[0]!r}.")
            for key, value in shard.items():
                parts.setdefault(key, []).append(value)
        return {k: torch.cat(v) for k, v in parts.items()}

    def __len__(self) -> int:
        return int(self.conditions["command"].shape[0])

    def __getitem__(self, i: int) -> dict[str, torch.Tensor]:
        if self.stored_previous is not None:
            previous = {PREVIOUS + n: p[i] for n, p in self.stored_previous.items()}
        else:
            j = int(self.previous_row[i])
            previous = {PREVIOUS + n: self.planes[n][max(j, 0)] * (j >= 0) for n in PLANES}
        return {
            **{n: p[i] for n, p in self.planes.items()},
            **{k: v[i] for k, v in self.conditions.items()},
            **previous,
            "has_previous": self.has_previous[i],
        }

    @staticmethod
    def hexplane(batch: dict[str, torch.Tensor], prefix: str = "") -> HexPlane:
        """The planes of a (collated) item as a HexPlane: its own, or with `prefix` "previous_" or `FRAME`,
        its previous window's or its first frame's."""
        return HexPlane.from_planes({n: batch[prefix + n] for n in PLANES})
