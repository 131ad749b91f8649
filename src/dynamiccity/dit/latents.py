"""The latent set written by `dynamiccity encode`: HexPlanes with their conditions, normalised per channel."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import torch

from dynamiccity.hexplane import PLANES, HexPlane

CONDITIONS = ("command", "trajectory", "layout", "previous", "scene", "start")


def read_manifest(root: str | Path) -> dict[str, Any]:
    """LATENT_DIR/manifest.json, with a clear error when it is missing or broken."""
    path = Path(root) / "manifest.json"
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no latent manifest (run `dynamiccity encode` first).")
    try:
        manifest = json.loads(path.read_text())
    except json.JSONDecodeError as err:
        raise ValueError(f"{path}: not valid JSON ({err.msg}).") from err
    for key in ("latent_mean", "latent_std", "shards", "scenes", "vae_sha256"):
        if key not in manifest:
            raise ValueError(f"{path}: the manifest lacks {key!r}.")
    return manifest


def denormalise(manifest: dict[str, Any], hexplane: HexPlane) -> HexPlane:
    """Undo the per-channel normalisation of a latent set: latent = z * std + mean."""
    device = hexplane.xy.device
    mean = torch.tensor(manifest["latent_mean"], dtype=torch.float32, device=device).view(1, -1, 1, 1)
    std = torch.tensor(manifest["latent_std"], dtype=torch.float32, device=device).clamp_min(1e-6)
    return hexplane.map(lambda p: p * std.view(1, -1, 1, 1) + mean)


class LatentSet:
    """Every window of LATENT_DIR in memory; item i -> dict of normalised planes and its conditions.

    `splits` keeps the windows of scenes in those splits (None: all). Normalisation uses the manifest's
    per-channel mean/std: z = (latent - mean) / std; `denormalise` inverts it.
    """

    def __init__(self, root: str | Path, splits: tuple[str, ...] | None = None) -> None:
        self.root = Path(root)
        self.manifest = read_manifest(self.root)
        self.mean = torch.tensor(self.manifest["latent_mean"], dtype=torch.float32)
        self.std = torch.tensor(self.manifest["latent_std"], dtype=torch.float32).clamp_min(1e-6)
        tensors = self._load_shards()
        keep = torch.ones(tensors["command"].shape[0], dtype=torch.bool)
        if splits is not None:
            scene_split = [s["split"] for s in self.manifest["scenes"]]
            keep = torch.tensor([scene_split[int(s)] in splits for s in tensors["scene"]], dtype=torch.bool)
        self.index = keep.nonzero().squeeze(1)
        self.planes = {n: self.normalise_plane(tensors[n][keep]) for n in PLANES}
        self.conditions = {k: tensors[k][keep] for k in CONDITIONS}

    def _load_shards(self) -> dict[str, torch.Tensor]:
        from safetensors import SafetensorError
        from safetensors.torch import load_file

        parts: dict[str, list[torch.Tensor]] = {}
        for name in self.manifest["shards"]:
            path = self.root / name
            if not path.is_file():
                raise FileNotFoundError(f"{path}: latent shard listed in the manifest is missing.")
            try:
                shard = load_file(str(path))
            except (SafetensorError, OSError) as err:
                raise ValueError(f"{path}: unreadable latent shard ({err}).") from err
            missing = [k for k in (*PLANES, *CONDITIONS) if k not in shard]
            if missing:
                raise ValueError(f"{path}: latent shard lacks {missing[0]!r}.")
            for key, value in shard.items():
                parts.setdefault(key, []).append(value)
        return {k: torch.cat(v) for k, v in parts.items()}

    @property
    def channels(self) -> int:
        return int(self.mean.numel())

    @property
    def sizes(self) -> tuple[int, int, int, int]:
        """(T', X', Y', Z')."""
        return (self.planes["tx"].shape[2], *self.planes["xy"].shape[2:], self.planes["xz"].shape[3])

    def normalise_plane(self, plane: torch.Tensor) -> torch.Tensor:
        return (plane - self.mean.view(1, -1, 1, 1)) / self.std.view(1, -1, 1, 1)

    def denormalise(self, hexplane: HexPlane) -> HexPlane:
        return denormalise(self.manifest, hexplane)

    def __len__(self) -> int:
        return int(self.index.numel())

    def __getitem__(self, i: int) -> dict[str, torch.Tensor]:
        return {**{n: p[i] for n, p in self.planes.items()}, **{k: v[i] for k, v in self.conditions.items()}}

    def hexplane(self, batch: dict[str, torch.Tensor]) -> HexPlane:
        return HexPlane.from_planes({n: batch[n] for n in PLANES})
