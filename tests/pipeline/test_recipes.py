"""Run configs round-trip through their dict/YAML form and refuse unknown keys at every level."""

from __future__ import annotations

import pytest

from dynamiccity.diffusion.process import DiffusionConfig
from dynamiccity.dit.config import dit_preset
from dynamiccity.pipeline import DataSpec, DiTRunConfig, LossSpec, VAERunConfig
from dynamiccity.train.config import TrainConfig
from dynamiccity.vae.config import vae_preset


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
