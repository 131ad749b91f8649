"""Checkpoints as safetensors plus JSON: loading one can never run code (no pickle anywhere).

<dir>/<name>.safetensors        model weights
<dir>/<name>.optim.safetensors  optimizer tensors (only for resumable checkpoints)
<dir>/<name>.json               run config, optimizer hyper-parameters, step, metrics, file hashes
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load_file, save_file

from dynamiccity.atomic import atomic_path, write_text


def _save_tensors(tensors: dict[str, torch.Tensor], path: Path) -> str:
    with atomic_path(path) as tmp:
        save_file({k: v.detach().contiguous().cpu() for k, v in tensors.items()}, str(tmp))
    return file_sha256(path)


def file_sha256(path: str | Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


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
    """Write `name` checkpoint files atomically (the JSON last, so a complete JSON means complete files)."""
    folder = Path(folder)
    files = {"model": _save_tensors(model_state, folder / f"{name}.safetensors")}
    meta = dict(meta)
    if optimizer is not None:
        tensors, rest = optimizer_tensors(optimizer)
        files["optim"] = _save_tensors(tensors, folder / f"{name}.optim.safetensors")
        meta["optimizer"] = rest
    for key, tensors in (extra_tensors or {}).items():
        files[key] = _save_tensors(tensors, folder / f"{name}.{key}.safetensors")
    meta["files"] = files
    write_text(folder / f"{name}.json", json.dumps(meta, indent=1, default=float) + "\n")
    return folder / f"{name}.json"


def load_checkpoint(folder: str | Path, name: str) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    """(model tensors, meta) of a checkpoint; raises FileNotFoundError naming what is missing."""
    folder = Path(folder)
    meta_path = folder / f"{name}.json"
    if not meta_path.is_file():
        raise FileNotFoundError(f"{meta_path}: no checkpoint here.")
    meta = json.loads(meta_path.read_text())
    return load_file(str(folder / f"{name}.safetensors")), meta


def load_extra(folder: str | Path, name: str, key: str) -> dict[str, torch.Tensor]:
    """The `key` tensors (e.g. "optim", "ema") saved beside a checkpoint."""
    return load_file(str(Path(folder) / f"{name}.{key}.safetensors"))
