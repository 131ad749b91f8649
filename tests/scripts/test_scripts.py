"""Every tool in scripts/ runs: each parses its arguments, says a bad input in one line, and those that need
no trained model run on tiny inputs (`ship_model.py` ships a two-step VAE; `profile_vae_step.py` profiles a
`synthtown-micro` step). The harnesses behind documented numbers need trained models and hours, so only
their argument checks run here."""

from __future__ import annotations

import os
import runpy
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from tests.conftest import TINY_VAE, cli, tiny_town

SCRIPTS = Path(__file__).resolve().parents[2] / "scripts"
PYTHON_SCRIPTS = (
    "compare_samplers.py",
    "conditions_synthtown.py",
    "editing_synthtown.py",
    "latent_roughness.py",
    "profile_vae_step.py",
    "ship_model.py",
)
SHELL_SCRIPTS = ("conditions_world.sh", "generation_table_synthtown.sh", "gpu_checks.sh")
# the arguments after which each script that needs a DiT first opens it
NEEDS_A_DIT = {
    "compare_samplers.py": ["--vae", "synthtown", "--out", "x.json", "ddim-50"],
    "conditions_synthtown.py": ["command", "--vae", "synthtown", "--data", "none", "--out", "out"],
    "editing_synthtown.py": ["inpaint", "--vae", "synthtown", "--data", "none", "--out", "out"],
    "latent_roughness.py": ["ddim-50"],
}


def run_script(name: str, *argv, monkeypatch) -> None:
    """Run scripts/NAME in this process as `python scripts/NAME ARGV...` does."""
    monkeypatch.setattr(sys, "argv", [str(SCRIPTS / name), *map(str, argv)])
    with torch.enable_grad():  # restored on exit: a script may turn gradients off for its whole run
        runpy.run_path(str(SCRIPTS / name), run_name="__main__")


def run_shell(name: str, *argv, env: dict | None = None, cwd: Path) -> subprocess.CompletedProcess:
    path = os.pathsep.join([str(Path(sys.executable).parent), os.environ["PATH"]])
    environ = {k: v for k, v in os.environ.items() if k not in {"OUT", "DIT", "VAE", "DITS"}}
    return subprocess.run(
        ["bash", str(SCRIPTS / name), *argv], env=environ | {"PATH": path} | (env or {}), cwd=cwd,
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip


def test_every_script_is_tested():
    assert sorted(p.name for p in SCRIPTS.iterdir() if p.is_file()) == sorted(PYTHON_SCRIPTS + SHELL_SCRIPTS)


@pytest.mark.parametrize("name", PYTHON_SCRIPTS)
def test_help_parses(name, monkeypatch, capsys):
    with pytest.raises(SystemExit) as exit_:
        run_script(name, "--help", monkeypatch=monkeypatch)
    assert exit_.value.code == 0
    assert capsys.readouterr().out.startswith(f"usage: {name}")


@pytest.mark.parametrize("name", PYTHON_SCRIPTS)
def test_bad_arguments_are_refused(name, monkeypatch, capsys):
    with pytest.raises(SystemExit) as exit_:
        run_script(name, "--no-such-option", monkeypatch=monkeypatch)
    assert exit_.value.code == 2 and f"{name}: error:" in capsys.readouterr().err


@pytest.mark.parametrize("name", sorted(NEEDS_A_DIT))
def test_a_missing_run_folder_is_one_line(name, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(SystemExit) as exit_:
        run_script(name, "--dit", tmp_path / "none", *NEEDS_A_DIT[name], monkeypatch=monkeypatch)
    message = str(exit_.value.code)
    assert message.startswith(f"error: {tmp_path / 'none'}: no such run folder") and "\n" not in message


def test_ship_model_ships_a_run_that_loads_by_name(tmp_path, monkeypatch, capsys):
    import dynamiccity.shipped
    from dynamiccity.runs.checkpoints import checkpoint_name
    from dynamiccity.train.checkpoint import open_checkpoint

    town = tiny_town(tmp_path / "town")
    cli("train-vae", "--preset", "synthtown-micro", "--data", town, "--format", "synthtown",
        "--out", tmp_path / "vae", "--steps", "2", *TINY_VAE)  # fmt: skip
    monkeypatch.setattr(dynamiccity.shipped, "ROOT", tmp_path / "shipped")
    run_script("ship_model.py", "vae", "tiny", tmp_path / "vae", monkeypatch=monkeypatch)
    assert "vae-tiny" in capsys.readouterr().out
    folder = dynamiccity.shipped.resolve("vae", "tiny")
    assert folder == tmp_path / "shipped" / "vae-tiny" and (folder / "config.yaml").is_file()
    shipped = open_checkpoint(folder / "checkpoints", "best")
    assert set(shipped.meta["files"]) == {"model"}  # a VAE keeps no EMA: its weights alone
    trained = open_checkpoint(tmp_path / "vae" / "checkpoints", checkpoint_name(tmp_path / "vae"))
    for key, tensor in shipped.tensors("model").items():
        assert tensor.equal(trained.tensors("model")[key])


def test_ship_model_without_a_checkpoint_is_one_line(tmp_path, monkeypatch):
    with pytest.raises(SystemExit) as exit_:
        run_script("ship_model.py", "vae", "tiny", tmp_path, monkeypatch=monkeypatch)
    assert str(exit_.value.code).startswith("error: ") and "no checkpoint here" in str(exit_.value.code)


def test_profile_vae_step_profiles_a_micro_step(monkeypatch, capsys):
    run_script("profile_vae_step.py", "--preset", "synthtown-micro", "--encoder", "avgpool", "--decoder",
               "query", "--repeats", "1", "--rows", "3", monkeypatch=monkeypatch)  # fmt: skip
    out = capsys.readouterr().out
    assert "synthtown-micro avgpool/query on cpu" in out and "s/step" in out and "Self CPU time total" in out


def test_profile_vae_step_unknown_preset_is_one_line(monkeypatch):
    with pytest.raises(SystemExit) as exit_:
        run_script("profile_vae_step.py", "--preset", "nope", monkeypatch=monkeypatch)
    assert str(exit_.value.code).startswith("error: unknown VAE preset 'nope'")


@pytest.mark.parametrize("name", SHELL_SCRIPTS)
def test_shell_scripts_parse(name):
    assert subprocess.run(["bash", "-n", str(SCRIPTS / name)], capture_output=True).returncode == 0


@pytest.mark.parametrize(
    ("name", "argv", "env", "message"),
    [
        ("gpu_checks.sh", [], {}, "OUT: set OUT to a results folder"),
        ("generation_table_synthtown.sh", [], {}, "usage: generation_table_synthtown.sh OUT_DIR"),
        ("generation_table_synthtown.sh", ["table"], {"VAE": "none"}, "error: none: no such run folder"),
        (
            "generation_table_synthtown.sh",
            ["table"],
            {"VAE": "synthtown", "DITS": "none"},
            "error: none: no such",
        ),
        ("conditions_world.sh", [], {"DIT": "none"}, "error: none: no such run folder"),
    ],
)
def test_shell_scripts_refuse_bad_input_in_one_line(name, argv, env, message, tmp_path):
    done = run_shell(name, *argv, env=env, cwd=tmp_path)
    assert done.returncode != 0 and message in done.stderr and len(done.stderr.strip().splitlines()) == 1
    assert not any(tmp_path.iterdir())  # nothing made before the refusal
