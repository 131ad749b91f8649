"""Run configs round-trip through their dict/YAML form and refuse unknown keys at every level; recipes
(preset, config file, --set, command-line options) resolve in that order, and the recipes of configs/ and
of the records (docs/results/<record>/recipe.yaml) replay the documented runs."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest

from dynamiccity.data.scene import GridSpec
from dynamiccity.diffusion.process import DiffusionConfig
from dynamiccity.dit.config import DiTConfig, dit_preset
from dynamiccity.hexplane import PLANES
from dynamiccity.pipeline import (
    DataSpec,
    DiTRunConfig,
    LatentManifest,
    LossSpec,
    RunRequest,
    VAERunConfig,
    dit_run_config,
    read_manifest,
    vae_run_config,
)  # fmt: skip
from dynamiccity.train.config import TrainConfig
from dynamiccity.vae.config import VAEConfig, vae_preset


def _vae_run() -> VAERunConfig:
    return VAERunConfig(
        "synthtown-micro", vae_preset("synthtown-micro"), TrainConfig(steps=3),
        DataSpec("data/x", "synthtown", options={"mask": "camera"}), LossSpec(kl_weight=1e-3),
    )  # fmt: skip


def _dit_run() -> DiTRunConfig:
    return DiTRunConfig(
        "synthtown-micro", dit_preset("synthtown-micro"), DiffusionConfig(), TrainConfig(steps=2), "lat"
    )


@pytest.mark.parametrize("make", [_vae_run, _dit_run])
def test_round_trip_through_yaml(make, tmp_path):
    cfg = make()
    cfg.save(tmp_path / "config.yaml")
    assert type(cfg).load(tmp_path / "config.yaml") == cfg


@pytest.mark.parametrize(
    ("make", "section", "message"),
    [
        (_vae_run, None, "unknown run config key 'oops'"),
        (_vae_run, "data", "unknown DataSpec key 'oops'"),
        (_vae_run, "train", "unknown train config key 'oops'"),
        (_dit_run, None, "unknown DiT run config key 'oops'"),
        (_dit_run, "diffusion", "key 'oops'"),
    ],
)
def test_unknown_keys_are_refused(make, section, message):
    data = make().to_dict()
    (data if section is None else data[section])["oops"] = 1
    with pytest.raises(ValueError, match=message):
        type(make()).from_dict(data)


def test_missing_sections_take_defaults():
    data = _vae_run().to_dict()
    del data["loss"]
    assert VAERunConfig.from_dict(data).loss == LossSpec()


# ---- recipes: preset, then config file, then --set, then the command line's own options ------------------
ROOT = Path(__file__).resolve().parents[2]
RESULTS = ROOT / "docs" / "results"


def _write(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


def _fake_latents(root: Path, vae: VAEConfig, frame_planes: bool = False, world: bool = False) -> Path:
    """A latent folder holding only a manifest (what a DiT config is resolved from)."""
    LatentManifest(
        vae_run="vae", vae_checkpoint="vae/checkpoints/best.safetensors", vae_sha256="0" * 64, vae_config=vae,
        latent_mean=(0.0,) * vae.latent_channels, latent_std=(1.0,) * vae.latent_channels, planes=PLANES,
        windows=0, frames=vae.frames, stride=1, layout_factor=2, grid=GridSpec(vae.grid, (-1,) * 3 + (1,) * 3, 10),
        shards=(), shard_size=512, data={"path": "d", "format": "synthtown"}, scenes=(),
        frame_planes=frame_planes, coordinates="world" if world else "ego", previous_planes=world,
    ).write(root)  # fmt: skip
    return root


# A record's own recipe is docs/results/<record>/recipe.yaml, beside the config.yaml the run wrote.
VAE_RECORD_RECIPES = [
    "vae-synthtown-tiny-release-projection-cpu",
    "vae-encoder-synthtown/finetune",
    "vae-encoder-synthtown/fresh16",
    "vae-encoder-synthtown/fresh32",
    "vae-encoder-synthtown/fresh16-projection",
    "vae-encoder-synthtown/fresh16-change",
    "vae-refined-synthtown/decoder-finetune",
    "vae-encoder-head-blocks",
    "vae-encoder-iterative",
]
RELEASE_DIT_RECORD_RECIPES = [
    "dit-synthtown-tiny-cond-release-cpu",
    "dit-synthtown-tiny-cond-release-drop50-cpu",
]
WORLD_DIT_RECORD_RECIPES = ["dit-synthtown-tiny-cond-world-cpu"]


def _record_recipe(record: str) -> tuple[str, str]:
    return f"docs/results/{record}/recipe.yaml", f"{record}/config.yaml"


@pytest.mark.parametrize(
    ("recipe", "record"),
    [
        ("configs/vae-synthtown-tiny-cpu.yaml", "vae-synthtown-tiny-dt1/config.yaml"),
        ("configs/vae-synthtown-tiny-gpu.yaml", "vae-synthtown-tiny-gpu/config_avgpool.yaml"),
        ("configs/vae-synthtown-tiny-release-cpu.yaml", "vae-synthtown-tiny-release-cpu/config.yaml"),
        *map(_record_recipe, VAE_RECORD_RECIPES),
    ],
)
def test_vae_recipes_reproduce_their_documented_runs(recipe, record):
    cfg = vae_run_config(RunRequest(config_file=ROOT / recipe))
    documented = VAERunConfig.load(RESULTS / record)
    assert cfg == replace(documented, data=replace(documented.data, path=cfg.data.path))


def test_the_world_vae_recipe_is_the_release_one_seen_from_the_first_frame():
    """configs/vae-synthtown-tiny-world-cpu.yaml: the release recipe but for where windows are seen from, and
    the documented world run (trained on those windows written out as 8-frame scenes, worldset.py)."""
    world = vae_run_config(RunRequest(config_file=ROOT / "configs/vae-synthtown-tiny-world-cpu.yaml"))
    release = vae_run_config(RunRequest(config_file=ROOT / "configs/vae-synthtown-tiny-release-cpu.yaml"))
    assert world.data.coordinates == "world"
    assert world == replace(release, data=replace(release.data, coordinates="world"))
    documented = VAERunConfig.load(RESULTS / "vae-world-frame-screening/world-config.yaml")
    assert world == replace(documented, data=world.data)


def test_the_v2_evaluator_recipe_is_v1_with_its_documented_changes():
    """configs/evaluator-synthtown-v2.yaml against the shipped v1 (configs/evaluator-synthtown.yaml, whose
    run is src/dynamiccity/shipped/evaluator-synthtown): two down stages, a conv after each upsampling,
    change at each place, a BEV
    decoder, and a longer schedule on the same data."""
    from dynamiccity.runs.evaluator import EvaluatorRunConfig
    from dynamiccity.runs.recipes import evaluator_run_config

    v1, v2 = (
        evaluator_run_config(RunRequest(config_file=ROOT / "configs" / f"evaluator-synthtown{v}.yaml"))
        for v in ("", "-v2")
    )
    shipped = EvaluatorRunConfig.load(ROOT / "src/dynamiccity/shipped/evaluator-synthtown/config.yaml")
    assert v1 == replace(shipped, data=replace(shipped.data, path=v1.data.path))
    model = replace(v1.model, widths3d=(16, 32, 64), decoder_convs=1, change3d="spatial", bev_decoder=True)
    train = replace(v1.train, steps=1500, warmup_steps=50, eval_every=250)
    assert v2 == replace(v1, model=model, train=train)
    v3 = evaluator_run_config(RunRequest(config_file=ROOT / "configs" / "evaluator-synthtown-v3.yaml"))
    train = replace(v2.train, steps=2500, lr=0.001, warmup_steps=20)
    assert v3 == replace(v2, train=train, class_weight_power=1 / 3, init="runs/evaluator-synthtown-v2")


@pytest.mark.parametrize(
    ("recipe", "record"),
    [
        ("dit-synthtown-tiny-cpu.yaml", "dit-synthtown-tiny-cpu-v/config.yaml"),
        ("dit-synthtown-tiny-gpu.yaml", "dit-synthtown-tiny-gpu-v/config.yaml"),
    ],
)
def test_dit_recipes_reproduce_their_documented_runs(recipe, record, tmp_path):
    latents = _fake_latents(tmp_path, vae_preset("synthtown-tiny"))  # the documented runs' latent sizes
    request = RunRequest(config_file=ROOT / "configs" / recipe, explicit={"latents": str(latents)})
    documented = DiTRunConfig.load(ROOT / "docs" / "results" / record)
    assert dit_run_config(request) == replace(documented, latents=str(latents))


@pytest.mark.parametrize(
    ("recipe", "record"),
    [
        (
            "configs/dit-synthtown-tiny-cond-release-placed-cpu.yaml",
            "dit-synthtown-tiny-cond-release-placed-cpu/config.yaml",
        ),
        *map(_record_recipe, RELEASE_DIT_RECORD_RECIPES),
    ],
)
def test_the_release_latent_recipes_reproduce_their_documented_runs(recipe, record, tmp_path):
    """On the latents of the release-width VAE recipe, with single-frame planes, as the records were trained."""
    vae = vae_run_config(RunRequest(config_file=ROOT / "configs" / "vae-synthtown-tiny-release-cpu.yaml"))
    latents = _fake_latents(tmp_path, vae.model, frame_planes=True)
    request = RunRequest(config_file=ROOT / recipe, explicit={"latents": str(latents)})
    documented = DiTRunConfig.load(RESULTS / record)
    assert dit_run_config(request) == replace(documented, latents=str(latents))


WORLD_PLACED = "configs/dit-synthtown-tiny-cond-world-placed-cpu.yaml"


@pytest.mark.parametrize(
    ("recipe", "record", "steps"),
    [
        *((*_record_recipe(record), None) for record in WORLD_DIT_RECORD_RECIPES),
        (WORLD_PLACED, "dit-synthtown-tiny-cond-world-placed-cpu/config.yaml", None),
        # the same run continued with --resume --steps 2400
        (WORLD_PLACED, "dit-synthtown-tiny-cond-world-placed-2400-cpu/config.yaml", 2400),
    ],
)
def test_the_world_coordinate_recipes_reproduce_their_documented_runs(recipe, record, steps, tmp_path):
    """On world-coordinate latents of the shipped VAE, as the records were trained."""
    vae = VAERunConfig.load(ROOT / "src" / "dynamiccity" / "shipped" / "vae-synthtown" / "config.yaml")
    latents = _fake_latents(tmp_path, vae.model, frame_planes=True, world=True)
    explicit = {"latents": str(latents)} | ({} if steps is None else {"train": {"steps": steps}})
    request = RunRequest(config_file=ROOT / recipe, explicit=explicit)
    documented = DiTRunConfig.load(RESULTS / record)
    assert dit_run_config(request) == replace(documented, latents=str(latents))


@pytest.mark.parametrize("pool", [1, 2])
def test_the_centred_recipes_reproduce_their_documented_runs(pool, tmp_path):
    """The centred one-pass DiT recipe and its pooled twin: the runs of the context-pool record, which differ
    in `model.context_pool` only."""
    manifest = json.loads((RESULTS / "dit-context-pool/tiny-world-latent-manifest.json").read_text())
    latents = _fake_latents(tmp_path, VAEConfig.from_dict(manifest["vae_config"]), frame_planes=True)
    stem = "dit-synthtown-tiny-centred-onepass" + ("-pool2" if pool == 2 else "")
    request = RunRequest(
        config_file=ROOT / "configs" / f"{stem}-cpu.yaml", explicit={"latents": str(latents)}
    )
    documented = DiTRunConfig.load(RESULTS / f"dit-context-pool/tiny-world-pool{pool}-config.yaml")
    cfg = dit_run_config(request)
    assert cfg == replace(documented, latents=str(latents)) and cfg.model.context_pool == pool


def test_every_records_recipe_is_checked():
    """A recipe moved beside its record (docs/results/<record>/recipe.yaml) is in one of the lists above."""
    checked = VAE_RECORD_RECIPES + RELEASE_DIT_RECORD_RECIPES + WORLD_DIT_RECORD_RECIPES
    found = [str(p.parent.relative_to(RESULTS)) for p in RESULTS.glob("**/recipe.yaml")]
    assert sorted(found) == sorted(checked)


def test_a_run_config_replays_itself(tmp_path):
    cfg = _vae_run()
    cfg.save(tmp_path / "config.yaml")
    assert vae_run_config(RunRequest(config_file=tmp_path / "config.yaml")) == cfg


def test_layers_apply_in_order(tmp_path):
    file = _write(
        tmp_path / "r.yaml",
        "preset: synthtown-micro\nmodel: {encoder: avgpool}\ntrain: {lr: 3e-3, steps: 9}\n"
        "data: {path: a, format: synthtown, stride: 2}\nloss: {kl_weight: 1e-4}\n",
    )
    overrides = {"lr": 1e-2, "stride": 3, "grid": [32, 32, 4]}  # a pinned grid: the data is not read
    explicit = {"train": {"steps": 4}, "data": {"path": "b", "format": "carlasc"}}
    cfg = vae_run_config(RunRequest(None, file, overrides, explicit))
    assert cfg.preset == "synthtown-micro" and cfg.model == replace(
        vae_preset("synthtown-micro"), encoder="avgpool"
    )
    assert (cfg.train.lr, cfg.train.steps, cfg.train.schedule) == (
        1e-2,
        4,
        "step",
    )  # --set, CLI, preset default
    assert (cfg.data.path, cfg.data.format, cfg.data.stride) == ("b", "carlasc", 3)
    assert cfg.loss.kl_weight == 1e-4 and isinstance(cfg.loss.kl_weight, float)  # YAML 1.1 reads 1e-4 as text


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("model: {depth: 3}\n", "r.yaml: unknown config key 'model.depth'"),
        ("oops: 1\n", "r.yaml: unknown config key 'oops'"),
        ("- a list\n", "r.yaml: a config file must hold a mapping"),
        ("model: [\n", "r.yaml: not valid YAML"),
    ],
)
def test_bad_config_files_are_refused_by_name(text, message, tmp_path):
    file = _write(tmp_path / "r.yaml", text)
    with pytest.raises(ValueError, match=message):
        vae_run_config(RunRequest("synthtown-micro", file, explicit={"train": {"steps": 1}}))


def test_what_a_run_needs_is_asked_for(tmp_path):
    with pytest.raises(ValueError, match="which model preset"):
        vae_run_config(RunRequest())
    with pytest.raises(ValueError, match="which data"):
        vae_run_config(RunRequest("synthtown-micro", explicit={"train": {"steps": 1}}))
    with pytest.raises(ValueError, match="how long to train"):
        vae_run_config(RunRequest("synthtown-micro", explicit={"data": {"path": "a", "format": "synthtown"}}))
    with pytest.raises(ValueError, match="which latents"):
        dit_run_config(RunRequest("synthtown-micro", explicit={"train": {"steps": 1}}))
    with pytest.raises(FileNotFoundError, match="no such config file"):
        vae_run_config(RunRequest(config_file=tmp_path / "none.yaml"))


def test_dit_network_takes_the_latents_sizes(tmp_path):
    vae = vae_preset("synthtown-micro")
    latents = _fake_latents(tmp_path, vae)
    cfg = dit_run_config(RunRequest("carlasc", explicit={"latents": str(latents), "train": {"steps": 1}}))
    assert cfg.model.latent_sizes == vae.latent_grid and cfg.model.latent_channels == vae.latent_channels
    assert cfg.model.hidden == 384 and cfg.train.ema == 0.9999  # the preset and the release's defaults


def test_retired_keys_of_old_runs_are_dropped():
    data = _vae_run().to_dict()
    data["train"]["num_workers"] = 0  # written by versions that accepted it without using it
    assert VAERunConfig.from_dict(data) == _vae_run()
    with pytest.raises(ValueError, match="unknown train config key 'num_workerz'"):
        VAERunConfig.from_dict({**data, "train": {**data["train"], "num_workerz": 0}})


def test_the_model_grid_follows_the_data_unless_pinned(tmp_path):
    from dynamiccity.synthtown.dataset import synthesize

    synthesize(tmp_path / "town", scenes=1, frames=4, grid=(16, 16, 4), seed=0)
    data = {"data": {"path": str(tmp_path / "town"), "format": "synthtown"}, "train": {"steps": 1}}
    cfg = vae_run_config(RunRequest("synthtown-micro", explicit=data))
    assert vae_preset("synthtown-micro").grid == (32, 32, 4) and cfg.model.grid == (16, 16, 4)
    pinned = vae_run_config(RunRequest("synthtown-micro", overrides={"grid": [32, 32, 4]}, explicit=data))
    assert pinned.model.grid == (32, 32, 4)
    synthesize(tmp_path / "odd", scenes=1, frames=4, grid=(15, 16, 4), seed=0)
    data["data"]["path"] = str(tmp_path / "odd")
    with pytest.raises(ValueError, match="downsample rate 2 does not divide X=15"):
        vae_run_config(RunRequest("synthtown-micro", explicit=data))


def test_dit_conditions_follow_the_latents_unless_chosen(tmp_path):
    from dataclasses import replace as with_

    vae = vae_preset("synthtown-micro")
    latents = _fake_latents(tmp_path, vae)  # no single-frame planes: written before they existed

    def run(conditions=None):
        overrides = {} if conditions is None else {"conditions": conditions}
        return dit_run_config(
            RunRequest("synthtown-micro", None, overrides, {"latents": str(latents), "train": {"steps": 1}})
        )

    cfg = run()
    assert cfg.model.conditions == ("command", "trajectory", "layout", "previous")
    assert cfg.model.frames == vae.frames and cfg.model.layout_grid == (vae.grid[0] // 2, vae.grid[1] // 2)
    assert run(["command", "layout"]).model.conditions == ("command", "layout")
    plain = run([]).model
    assert plain.conditions == () and plain.frames == DiTConfig().frames  # the presets say no frames
    with pytest.raises(ValueError, match="the latents carry no frame condition"):
        run(["frame"])
    manifest = read_manifest(latents)
    with_(manifest, poses=False, frame_planes=True).write(latents)
    assert run().model.conditions == ("layout", "previous", "frame")


def test_the_model_classes_follow_the_class_set_read(tmp_path):
    from dynamiccity.data import open_dataset
    from dynamiccity.runs.datasets import check_grid, read_as_run
    from tests.conftest import write_nuscenes

    write_nuscenes(tmp_path, {"scene-a": 2, "scene-b": 2})
    data = {"path": str(tmp_path), "format": "occ3d-nuscenes", "options": {"classes": "native"}}
    cfg = vae_run_config(RunRequest("occ3d-nuscenes", explicit={"data": data, "train": {"steps": 1}}))
    assert cfg.model.num_classes == 18 and cfg.data.options["classes"] == "native"
    common = {**data, "options": {}}
    assert (
        vae_run_config(
            RunRequest("occ3d-nuscenes", explicit={"data": common, "train": {"steps": 1}})
        ).model.num_classes
        == 12
    )
    # scoring a native run reads its data in the run's class set, and a mismatch is refused by name
    spec = read_as_run(DataSpec(str(tmp_path), "occ3d-nuscenes"), cfg.data)
    assert spec.options == {"classes": "native"}
    windows = open_dataset(tmp_path, "occ3d-nuscenes", frames=2)
    with pytest.raises(ValueError, match="common class set \\(12 classes\\), but the model has 18"):
        check_grid(windows, cfg.model)


@pytest.mark.parametrize("recipe", sorted((ROOT / "configs" / "table1").glob("*.yaml")), ids=lambda p: p.stem)
def test_table1_recipes_are_the_papers_settings(recipe):
    """Each row of paper Table 1 as a recipe: its preset at the row's sequence length and class set, batch 8,
    lr 1e-3, KL 0.005, the model buildable."""
    cfg = vae_run_config(RunRequest(config_file=recipe))
    frames = int(recipe.stem.split("-t")[1].split("-")[0])
    native = recipe.stem.endswith("native")
    assert cfg.model.frames == frames and cfg.model.grid == vae_preset(cfg.preset).grid
    assert cfg.model.num_classes == (18 if native else 12)
    assert cfg.data.options == ({"classes": "native"} if native else {})
    assert (cfg.train.batch_size, cfg.train.lr, cfg.loss.kl_weight, cfg.loss.lovasz_weight) == (
        8,
        1e-3,
        5e-3,
        1,
    )
    assert cfg.model.encoder == "projection" and cfg.model.fused_width == 64
    import torch

    from dynamiccity.vae.model import HexPlaneVAE

    with torch.device("meta"):
        assert sum(p.numel() for p in HexPlaneVAE(cfg.model).parameters()) > 0
