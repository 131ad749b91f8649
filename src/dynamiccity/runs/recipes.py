"""Run configurations from what a user asks for: a preset, then a config file, then `--set` overrides, then
the command line's own options (data, latents, run length), each layer over the one before.

A config file has the shape of a run's RUN/config.yaml (sections model, train, data, loss for a VAE;
model, diffusion, train and the top-level keys for a DiT) and may give any subset of it; an unknown key is an
error that names the file. A run's own config.yaml is such a file, so it replays the run.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

import yaml

from dynamiccity.config import check_keys, merged, numbers_read
from dynamiccity.diffusion.process import DiffusionConfig
from dynamiccity.dit.conditions import CONDITIONS
from dynamiccity.dit.config import DiTConfig, dit_preset
from dynamiccity.evaluator.config import EvaluatorConfig
from dynamiccity.runs.checkpoints import pretrained_vae
from dynamiccity.runs.datasets import DataSpec
from dynamiccity.runs.dit import DiTRunConfig
from dynamiccity.runs.evaluator import EvaluatorRunConfig
from dynamiccity.runs.latents import LatentManifest, read_manifest
from dynamiccity.runs.vae import BankSpec, Encoding, FineTune, LossSpec, VAERunConfig, Validation
from dynamiccity.train.config import TrainConfig
from dynamiccity.vae.config import ENCODER_KEYS, VAEConfig, vae_preset

log = logging.getLogger(__name__)
VAE_TRAIN = {"lr": 1e-3, "schedule": "step", "lr_step_every": 2000, "lr_gamma": 0.5, "grad_clip": 1.0}
# the release's recipe: AdamW 1e-4, constant rate, EMA 0.9999 (set ema lower for short runs)
DIT_TRAIN = {"lr": 1e-4, "schedule": "constant", "ema": 0.9999, "grad_clip": 1.0, "eval_every": 500}


@dataclass(frozen=True)
class RunRequest:
    """What a user asks for when starting a run, lowest precedence first.

    preset: a model preset name (None: the config file's `preset`). config_file: a YAML file shaped like a
    run's config.yaml. overrides: `--set` pairs {key or section.key: value}. explicit: the command line's
    own options in config.yaml's shape (e.g. {"data": {"path": ...}, "train": {"steps": 100}}).
    """

    preset: str | None = None
    config_file: str | Path | None = None
    overrides: dict[str, Any] = field(default_factory=dict)
    explicit: dict[str, Any] = field(default_factory=dict)


def read_config_file(path: str | Path, kind: type) -> dict[str, Any]:
    """The mapping in YAML file `path`, its keys checked against run config `kind`."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such config file.")
    try:
        data = yaml.safe_load(path.read_text())
    except yaml.YAMLError as err:
        raise ValueError(f"{path}: not valid YAML ({str(err).splitlines()[0]}).") from err
    if not isinstance(data, dict):
        raise ValueError(f"{path}: a config file must hold a mapping of config keys.")
    check_keys(kind, data, str(path))
    return numbers_read(data)


def route_overrides(overrides: dict[str, Any], sections: dict[str, set[str]]) -> dict[str, dict[str, Any]]:
    """Route each `--set` key=value to the config section owning that key ('section.key' picks one when
    several own it); lists become tuples. An unknown key is an error."""
    routed: dict[str, dict[str, Any]] = {name: {} for name in sections}
    for key, value in overrides.items():
        section, _, name = key.rpartition(".")
        owners = [s for s, names in sections.items() if name in names and section in ("", s)]
        if not owners:
            raise ValueError(f"unknown config key {key!r}.")
        routed[owners[0]][name] = tuple(value) if isinstance(value, list) else value
    return routed


def _names(kind: type) -> set[str]:
    return {f.name for f in fields(kind)}


def _layers(
    request: RunRequest, kind: type, sections: dict[str, set[str]], needs_preset: bool = True
) -> tuple[str | None, dict[str, Any]]:
    """(preset name, config file over override layers merged); `sections[""]` are top-level keys."""
    file = read_config_file(request.config_file, kind) if request.config_file else {}
    preset = request.preset or file.get("preset")
    if preset is None and needs_preset:
        raise ValueError("say which model preset: --preset NAME, or a config file with `preset:`.")
    routed = route_overrides(request.overrides, sections)
    layer = {**routed.pop(""), **{k: v for k, v in routed.items() if v}}
    return preset, merged(merged(file, layer), request.explicit)


def _check_length(train: dict[str, Any]) -> None:
    if train.get("steps") is None and train.get("epochs") is None:
        raise ValueError("say how long to train: --steps N or --epochs N (or train.steps in a config file).")


def vae_run_config(request: RunRequest) -> VAERunConfig:
    """The VAE run `request` describes."""
    sections = {
        "": set(),
        "model": _names(VAEConfig),
        "train": _names(TrainConfig),
        "data": _names(DataSpec) - {"path", "format", "options"},
        "loss": _names(LossSpec),
        "finetune": _names(FineTune),
        "bank": _names(BankSpec),
        "validation": _names(Validation),
        "encoding": _names(Encoding),
    }
    preset, layers = _layers(request, VAERunConfig, sections)
    base = {"model": vae_preset(preset).to_dict(), "train": VAE_TRAIN, "data": {}, "loss": {}}
    cfg = merged(base, {**layers, "preset": preset})
    if cfg.get("finetune"):
        cfg["model"] = _finetuned_model(cfg["finetune"], layers.get("model", {}))
        layers = {**layers, "model": cfg["model"]}
    _check_data_run(cfg, layers)
    return VAERunConfig.from_dict(cfg)


def _finetuned_model(finetune: dict[str, Any], pinned: dict[str, Any]) -> dict[str, Any]:
    """A fine-tune's model config: that of the VAE it starts from. A model key the request sets must agree
    with it, except the encoder's own keys when the encoder starts fresh (`fused_channels` too, where the
    decoder stays the same: a wider encoder over the narrow fusion pins it to the old `channels`)."""
    spec = FineTune.from_dict(finetune)
    source = pretrained_vae(spec.weights).config
    model = source.to_dict()
    free = ENCODER_KEYS | {"fused_channels"} if spec.encoder == "fresh" else frozenset()
    for key, value in pinned.items():
        if key in free:
            model[key] = value
        elif key not in model or _plain_value(model[key]) != _plain_value(value):
            raise ValueError(
                f"{spec.weights}: a fine-tune keeps its model config, which has {key}={model.get(key)!r}, "
                f"not {value!r}" + (" (a fresh encoder may change only its own keys)." if free else ".")
            )
    if free and VAEConfig.from_dict(model).decoder_side() != source.decoder_side():
        raise ValueError(
            f"{spec.weights}: these encoder keys change its decoder (fused width {source.fused_width}); "
            "pin fused_channels to keep it."
        )
    return model


def _plain_value(value: Any) -> Any:
    return list(value) if isinstance(value, tuple | list) else value


def _check_data_run(cfg: dict[str, Any], layers: dict[str, Any]) -> None:
    """A run on a dataset names its data and its length; its model takes the data's grid unless pinned."""
    if "path" not in cfg["data"] or "format" not in cfg["data"]:
        raise ValueError(
            "say which data: --data PATH --format FORMAT, or data.path and data.format in a file."
        )
    _check_length(cfg["train"])
    pinned = layers.get("model", {})
    wanted = {"grid"} | ({"num_classes"} if "classes" in cfg["data"].get("options", {}) else set())
    if wanted - set(pinned):
        facts = data_facts(cfg["data"])
        cfg["model"] = {**cfg["model"], **{k: facts[k] for k in wanted - set(pinned)}}


def data_facts(data: dict[str, Any]) -> dict[str, Any]:
    """The voxel grid (X, Y, Z) and number of classes of the dataset a run's `data` section names, read
    with its options: a VAE is built for the data's grid, and for the class set its options name
    (`classes`), unless pinned (`--set grid=...`, or `model.grid` and `model.num_classes` in a file)."""
    from dynamiccity.data import open_reader

    reader = open_reader(data["path"], data["format"], **data.get("options", {}))
    shape, classes = tuple(reader.grid.shape), reader.classes
    log.info(
        "model grid %s and %d classes (%s), those of %s",
        "x".join(map(str, shape)), classes.num_classes, classes.name, data["path"],
    )  # fmt: skip
    return {"grid": shape, "num_classes": classes.num_classes}


def dit_run_config(request: RunRequest) -> DiTRunConfig:
    """The DiT run `request` describes, its network sized to the latent set (channels, plane sizes, window
    frames, layout grid) and conditioned on every condition the latent set carries unless the recipe says
    which (`conditions: []` trains an unconditional network)."""
    sections = {
        "": {"val_windows", "loss_weight", "condition_dropout", "unconditional"},
        "model": _names(DiTConfig) - {"latent_channels", "latent_sizes", "frames", "layout_grid"},
        "diffusion": _names(DiffusionConfig),
        "train": _names(TrainConfig),
    }
    preset, layers = _layers(request, DiTRunConfig, sections)
    base = {"model": dit_preset(preset).to_dict(), "diffusion": {}, "train": DIT_TRAIN}
    cfg = merged(base, {**layers, "preset": preset})
    if "latents" not in cfg:
        raise ValueError("say which latents: --latents DIR, or `latents:` in a config file.")
    _check_length(cfg["train"])
    manifest = read_manifest(cfg["latents"])
    chosen = layers.get("model", {}).get("conditions")
    carried = latent_conditions(manifest)
    if chosen is not None and [c for c in chosen if c not in carried]:
        missing = next(c for c in chosen if c not in carried)
        raise ValueError(
            f"{cfg['latents']}: the latents carry no {missing} condition (they carry: {', '.join(carried)})."
        )
    conditions = carried if chosen is None else tuple(chosen)
    model = {"latent_channels": manifest.channels, "latent_sizes": manifest.sizes, "conditions": conditions}
    if conditions:  # the shapes of the conditions; an unconditional network keeps the defaults it ignores
        shape, factor = manifest.world_grid.shape, manifest.layout_factor
        model |= {"frames": manifest.frames, "layout_grid": (shape[0] // factor, shape[1] // factor)}
    cfg["model"] = {**cfg["model"], **model}
    return DiTRunConfig.from_dict(cfg)


def latent_conditions(manifest: LatentManifest) -> tuple[str, ...]:
    """The DiT conditions a latent set carries: command and trajectory only from posed data, the
    single-frame HexPlane only from sets that hold its planes."""
    lacking = set() if manifest.poses else {"command", "trajectory"}
    lacking |= set() if manifest.frame_planes else {"frame"}
    return tuple(c for c in CONDITIONS if c not in lacking)


EVALUATOR_TRAIN = {"lr": 2e-3, "schedule": "cosine", "warmup_steps": 20, "batch_size": 4, "grad_clip": 1.0}


def evaluator_run_config(request: RunRequest) -> EvaluatorRunConfig:
    """The evaluator run `request` describes (no preset: `EvaluatorConfig`'s defaults, at the data's grid
    unless pinned)."""
    sections = {
        "": {"recon_frames", "class_weight_power", "init"},
        "model": _names(EvaluatorConfig),
        "train": _names(TrainConfig),
        "data": _names(DataSpec) - {"path", "format", "options"},
    }
    _, layers = _layers(request, EvaluatorRunConfig, sections, needs_preset=False)
    base = {"model": EvaluatorConfig().to_dict(), "train": EVALUATOR_TRAIN, "data": {}}
    cfg = merged(base, layers)
    _check_data_run(cfg, layers)
    return EvaluatorRunConfig.from_dict(cfg)
