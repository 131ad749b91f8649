"""Checkpoints as safetensors plus JSON: loading one can never run code (no pickle anywhere).

A checkpoint `name` in a folder is a set of files that the JSON record commits together:

<dir>/<name>.json                          run config, optimizer hyper-parameters, step, metrics, and for
                                           each tensor file its name and sha256
<dir>/<name>.<sha>.safetensors             model weights
<dir>/<name>.<key>.<sha>.safetensors       other tensors: optimizer state (resumable checkpoints), EMA
                                           weights, RNG states

Tensor files are named by their content's hash and written (and flushed to disk) before the JSON record is
replaced atomically, so a save killed part-way leaves the previous record and every file it names intact;
files no record names are removed by the next save. Reading verifies every file against its hash. Records
written before the hashed names (`<name>.safetensors`, `<name>.<key>.safetensors`) still load.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load_file, save_file

from dynamiccity.atomic import atomic_path, write_text

MODEL = "model"


def file_sha256(path: str | Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _file_name(name: str, key: str, sha: str) -> str:
    return f"{name}.{sha[:16]}.safetensors" if key == MODEL else f"{name}.{key}.{sha[:16]}.safetensors"


def _save_tensors(tensors: dict[str, torch.Tensor], folder: Path, name: str, key: str) -> dict[str, str]:
    """Write `tensors` under their content's name; {"file", "sha256"} for the record."""
    with atomic_path(folder / f"{name}.{key}.partial.safetensors") as tmp:
        save_file({k: v.detach().contiguous().cpu() for k, v in tensors.items()}, str(tmp))
    partial = folder / f"{name}.{key}.partial.safetensors"
    sha = file_sha256(partial)
    os.replace(partial, folder / _file_name(name, key, sha))
    return {"file": _file_name(name, key, sha), "sha256": sha}


def optimizer_tensors(optimizer: torch.optim.Optimizer) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    """Split an optimizer state dict into flat tensors and JSON-able rest."""
    state = optimizer.state_dict()
    tensors, scalars = {}, {}
    for pid, slots in state["state"].items():
        for key, value in slots.items():
            if torch.is_tensor(value):
                tensors[f"{pid}.{key}"] = value
            else:
                scalars[f"{pid}.{key}"] = value
    return tensors, {"param_groups": state["param_groups"], "scalars": scalars}


def restore_optimizer(optimizer: torch.optim.Optimizer, tensors: dict[str, torch.Tensor], rest: dict) -> None:
    state: dict[int, dict[str, Any]] = {}
    for flat, value in [*tensors.items(), *rest["scalars"].items()]:
        pid, key = flat.split(".", 1)
        state.setdefault(int(pid), {})[key] = value
    # hyper-parameters come from the checkpoint; how the update runs (fused kernel or not) stays this
    # optimizer's, so a checkpoint moves between PyTorch builds and devices with and without fused kernels
    implementation = ("fused", "foreach")
    groups = [
        {**saved, **{k: live[k] for k in implementation if k in live}}
        for saved, live in zip(rest["param_groups"], optimizer.param_groups, strict=True)
    ]
    optimizer.load_state_dict({"state": state, "param_groups": groups})
    # Saved tensors come back contiguous; a state tensor must share its parameter's memory layout (e.g.
    # channels-last convolution weights), because fused optimizer kernels walk all of them as flat memory.
    for group in optimizer.param_groups:
        for param in group["params"]:
            slots = optimizer.state.get(param, {})
            for key, value in slots.items():
                if torch.is_tensor(value) and value.shape == param.shape and value.stride() != param.stride():
                    slots[key] = torch.empty_like(param, dtype=value.dtype).copy_(value)


def save_checkpoint(
    folder: str | Path,
    name: str,
    model_state: dict[str, torch.Tensor],
    meta: dict[str, Any],
    optimizer: torch.optim.Optimizer | None = None,
    extra_tensors: dict[str, dict[str, torch.Tensor]] | None = None,
) -> Path:
    """Write checkpoint `name`: its tensor files, then its JSON record (atomically), then remove the files of
    the record it replaced. Returns the record's path."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    files = {MODEL: _save_tensors(model_state, folder, name, MODEL)}
    meta = dict(meta)
    if optimizer is not None:
        tensors, rest = optimizer_tensors(optimizer)
        files["optim"] = _save_tensors(tensors, folder, name, "optim")
        meta["optimizer"] = rest
    for key, tensors in (extra_tensors or {}).items():
        files[key] = _save_tensors(tensors, folder, name, key)
    meta["files"] = files
    record = folder / f"{name}.json"
    write_text(record, json.dumps(meta, indent=1, default=float) + "\n")
    keep = {entry["file"] for entry in files.values()}
    for stale in folder.glob(f"{name}.*safetensors"):
        if stale.name not in keep:
            stale.unlink(missing_ok=True)
    return record


@dataclass(frozen=True)
class Checkpoint:
    """A committed checkpoint: its JSON record (`meta`) and verified access to the tensor files it names."""

    folder: Path
    name: str
    meta: dict[str, Any]

    @property
    def record(self) -> Path:
        return self.folder / f"{self.name}.json"

    def has(self, key: str) -> bool:
        return key in self.meta.get("files", {})

    def path(self, key: str = MODEL) -> Path:
        """The tensor file of `key` (model, optim, ema, rng, ...)."""
        entry = self.meta.get("files", {}).get(key)
        if entry is None:
            raise FileNotFoundError(f"{self.record}: the checkpoint holds no {key!r} tensors.")
        if isinstance(entry, str):  # a record from before the hashed file names
            return self.folder / (
                f"{self.name}.safetensors" if key == MODEL else f"{self.name}.{key}.safetensors"
            )
        return self.folder / entry["file"]

    def tensors(self, key: str = MODEL) -> dict[str, torch.Tensor]:
        """The `key` tensors, after checking the file against the hash the record holds for it."""
        path = self.path(key)
        entry = self.meta["files"][key]
        expected = entry if isinstance(entry, str) else entry["sha256"]
        if not path.is_file():
            raise FileNotFoundError(f"{path}: missing, though {self.record.name} lists it.")
        if file_sha256(path) != expected:
            raise ValueError(
                f"{path}: damaged or replaced (its sha256 is not the one {self.record.name} records)."
            )
        return load_file(str(path))


def open_checkpoint(folder: str | Path, name: str) -> Checkpoint:
    """Checkpoint `name` in `folder`; a clear error when its record is missing or unreadable."""
    folder = Path(folder)
    record = folder / f"{name}.json"
    if not record.is_file():
        raise FileNotFoundError(f"{record}: no checkpoint here.")
    try:
        meta = json.loads(record.read_text())
    except json.JSONDecodeError as err:
        raise ValueError(f"{record}: not valid JSON ({err.msg}).") from err
    if not isinstance(meta, dict) or "files" not in meta:
        raise ValueError(f"{record}: not a checkpoint record (no 'files').")
    return Checkpoint(folder, name, meta)
