"""A micro VAE and DiT trained once for the few command-line tests that need trained runs, with what each
training command said."""

from __future__ import annotations

import contextlib
import io
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.conftest import TINY_VAE

DIT_SET = ["--set", "ema=0.9", "--set", "ckpt_every=2", "--set", "eval_every=2", "--set", "val_windows=2"]


@dataclass
class Trained:
    """root: town/ (3 SynthTown scenes of 10 frames, 16x16x4), vae/, lat/ (its latents) and dit/.
    said: {command: (exit status, stdout)} of the commands that made them."""

    root: Path
    said: dict[str, tuple[int, str]] = field(default_factory=dict)

    def __truediv__(self, name: str) -> Path:
        return self.root / name


def _said(argv) -> tuple[int, str]:
    from dynamiccity.cli.main import main

    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        try:
            main([str(a) for a in argv])
            code = 0
        except SystemExit as exit_:
            code = exit_.code or 0
    return code, out.getvalue()


@pytest.fixture(scope="session")
def trained(tmp_path_factory) -> Trained:
    from dynamiccity.synthtown.dataset import synthesize

    runs = Trained(tmp_path_factory.mktemp("cli_runs"))
    synthesize(runs / "town", scenes=3, frames=10, grid=(16, 16, 4), seed=5, val_fraction=0.34)
    commands = {
        "train-vae": ["--preset", "synthtown-micro", "--data", runs / "town", "--format", "synthtown",
                      "--out", runs / "vae", "--steps", "2", *TINY_VAE],
        "encode": [runs / "vae", "--data", runs / "town", "--format", "synthtown", "--out", runs / "lat",
                   "--device", "cpu"],
        "train-dit": ["--preset", "synthtown-micro", "--latents", runs / "lat", "--out", runs / "dit",
                      "--steps", "2", *DIT_SET],
    }  # fmt: skip
    for command, argv in commands.items():
        runs.said[command] = _said([command, *argv])
        assert runs.said[command][0] == 0, (command, runs.said[command])
    return runs
