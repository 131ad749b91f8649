"""The VAE commands from the command line: train-vae, eval-vae, reconstruct, encode. Their options, the
usage errors (status 2) and one-line bad-input errors (status 1) that leave OUT alone, and what each writes
when it succeeds (the trained runs of `trained`)."""

from __future__ import annotations

import json

import numpy as np
import pytest

from tests.cli import help_text, one_line_error, run, usage_error

SYNTH = ["--format", "synthtown"]
MICRO = ["--preset", "synthtown-micro", "--steps", "1"]


@pytest.mark.parametrize(
    ("command", "options"),
    [
        ("train-vae", ["--out", "--preset", "--config", "--data", "--format", "--steps", "--epochs", "--set",
                       "--resume", "--overwrite", "--classes"]),
        ("eval-vae", ["--data", "--format", "--json", "--split", "--max-windows", "--stride", "--ego-motion",
                      "--refine", "--refine-lr"]),
        ("reconstruct", ["--data", "--format", "--out", "--split", "--max-windows", "--gifs", "--refine"]),
        ("encode", ["--data", "--format", "--out", "--stride", "--coordinates", "--refine", "--resume"]),
    ],
)  # fmt: skip
def test_help_names_the_options(capsys, monkeypatch, command, options):
    out = help_text([command], capsys, monkeypatch)
    assert [o for o in options if o not in out] == []


def test_train_vae_usage_errors(tmp_path, capsys):
    out = tmp_path / "out"
    cases = [
        ([], "Missing option '--out'."),
        (["--out", out, "--bogus"], "No such option: --bogus"),
        (["--out", out, *MICRO, "--data", tmp_path], "Invalid value: --data and --format go together."),
        (["--out", out, "--steps", "0"], "Invalid value for '--steps': Input should be greater than or equal to 1"),
        (["--out", out, "--data", tmp_path, "--format", "bogus"],
         "Invalid value for '--format' / '-f': Value error, 'bogus' is not one of 'carlasc',"),
        (["--out", out, *MICRO, "--set", "lr"], "Invalid value: --set takes key=value, got 'lr'."),
        (["--out", out, *MICRO, "--data", tmp_path, *SYNTH, "--mask", "camera"],
         "Invalid value: --mask applies to Occ3D formats only, not synthtown."),
    ]  # fmt: skip
    for argv, message in cases:
        assert message in usage_error(*run(["train-vae", *argv], capsys)), argv
    assert not out.exists()


def test_train_vae_bad_input_is_one_line_and_makes_no_run(trained, tmp_path, capsys):
    out, town, missing = tmp_path / "out", trained / "town", tmp_path / "missing"
    data = ["--data", town, *SYNTH]
    cases = [
        (["--preset", "nope", "--steps", "1", *data],
         "unknown VAE preset 'nope'; choose one of carlasc, occ3d-waymo, occ3d-nuscenes, semantickitti, "
         "synthtown-tiny, synthtown-micro."),
        ([*MICRO], "say which data: --data PATH --format FORMAT, or data.path and data.format in a file."),
        ([*MICRO, "--data", missing, *SYNTH], f"{missing}: dataset folder does not exist."),
        (["--preset", "synthtown-micro", *data],
         "say how long to train: --steps N or --epochs N (or train.steps in a config file)."),
        ([*MICRO, *data, "--set", "nokey=1"], "unknown config key 'nokey'."),
        (["--config", tmp_path / "recipe.yaml", "--steps", "1"], f"{tmp_path / 'recipe.yaml'}: no such config file."),
    ]  # fmt: skip
    for argv, message in cases:
        assert one_line_error(*run(["train-vae", "--out", out, *argv], capsys)) == message, argv
    assert not out.exists()


def test_train_vae_refuses_a_folder_that_holds_a_run(trained, tmp_path, capsys):
    """Neither --resume nor --overwrite: the run in OUT is left as it is."""
    out = tmp_path / "run"
    (out / "checkpoints").mkdir(parents=True)
    (out / "config.yaml").write_text("preset: synthtown-micro\n")
    argv = ["train-vae", "--out", out, *MICRO, "--data", trained / "town", *SYNTH]
    message = one_line_error(*run(argv, capsys))
    assert message == f"{out}: holds a run already; --resume continues it, --overwrite replaces it."
    assert sorted(p.name for p in out.iterdir()) == ["checkpoints", "config.yaml"]
    assert not any((out / "checkpoints").iterdir())
    assert (out / "config.yaml").read_text() == "preset: synthtown-micro\n"


def test_train_vae_succeeds_with_the_run_it_promises(trained):
    """The fixture's train-vae: status 0, its last line the summary.json it wrote, checkpoints of step 2."""
    code, out = trained.said["train-vae"]
    summary = json.loads((trained / "vae" / "summary.json").read_text())
    assert code == 0 and summary["step"] == 2
    assert out.splitlines()[-1] == f"done: step 2, validation {json.dumps(summary['metrics'])}"
    last = json.loads((trained / "vae" / "checkpoints" / "last.json").read_text())
    assert last["step"] == 2 and last["config"]["model"]["grid"] == [16, 16, 4]
    assert (trained / "vae" / "config.yaml").is_file()


def test_eval_reconstruct_encode_usage_errors(trained, tmp_path, capsys):
    out, vae, town = tmp_path / "out", trained / "vae", trained / "town"
    cases = [
        (["eval-vae", vae], "Missing option '--data'."),
        (["eval-vae", "--data", town, *SYNTH], "Missing argument 'run_dir'."),
        (["eval-vae", vae, "--data", town, *SYNTH, "--split", "bogus"],
         "Invalid value for '--split': Value error, 'bogus' is not one of 'train', 'val', 'all'."),
        (["eval-vae", vae, "--data", town, *SYNTH, "--max-windows", "0"], "Invalid value for '--max-windows'"),
        (["reconstruct", vae, "--data", town, *SYNTH], "Missing option '--out'."),
        (["reconstruct", vae, "--data", town, *SYNTH, "--out", out, "--refine", "-1"],
         "Invalid value for '--refine'"),
        (["encode", vae, "--data", town, *SYNTH], "Missing option '--out'."),
        (["encode", vae, "--data", town, *SYNTH, "--out", out, "--coordinates", "bogus"],
         "Invalid value for '--coordinates': Value error, 'bogus' is not one of 'ego', 'world', 'centred'."),
        (["encode", vae, "--data", town, *SYNTH, "--out", out, "--mask", "camera"],
         "Invalid value: --mask applies to Occ3D formats only, not synthtown."),
        (["encode", vae, "--data", town, *SYNTH, "--out", out, "--stride", "0"], "Invalid value for '--stride'"),
    ]  # fmt: skip
    for argv, message in cases:
        assert message in usage_error(*run(argv, capsys)), argv
    assert not out.exists()


@pytest.mark.parametrize("command", ["eval-vae", "reconstruct", "encode"])
def test_bad_run_or_data_is_one_line_naming_it(trained, tmp_path, capsys, command):
    """A run folder that does not exist, a folder that is not a run, a DiT run, a data folder that does not
    exist, data of another format: one line naming the folder, and nothing written."""
    out, town, missing = tmp_path / "out", trained / "town", tmp_path / "missing"
    empty = tmp_path / "empty"
    empty.mkdir()
    written = ["--json", out] if command == "eval-vae" else ["--out", out]
    cases = [
        ([missing, "--data", town, *SYNTH],
         f"{missing}: no such run folder, and not the name of a shipped vae (shipped vaes: synthtown, synthtown-centred, "
         "synthtown-refined)."),
        ([empty, "--data", town, *SYNTH], f"{empty / 'checkpoints' / 'last.json'}: no checkpoint here."),
        ([trained / "dit", "--data", town, *SYNTH],
         f"{trained / 'dit'}: not a run of this kind (unknown run config key 'condition_dropout')."),
        ([trained / "vae", "--data", missing, *SYNTH], f"{missing}: dataset folder does not exist."),
        ([trained / "vae", "--data", town, "--format", "carlasc"],
         f"{town}: no Cartesian/ folder; pass the CarlaSC root that holds it."),
    ]  # fmt: skip
    for argv, message in cases:
        assert one_line_error(*run([command, *argv, *written], capsys)) == message, argv
        assert not out.exists()


def test_eval_vae_writes_the_json_it_prints(trained, tmp_path, capsys):
    out = tmp_path / "scores" / "m.json"
    argv = ["eval-vae", trained / "vae", "--data", trained / "town", *SYNTH, "--json", out, "--max-windows", "1",
            "--device", "cpu"]  # fmt: skip
    code, printed, _ = run(argv, capsys)
    assert code == 0 and json.loads(printed) == json.loads(out.read_text())
    scores = json.loads(printed)
    best = json.loads((trained / "vae" / "checkpoints" / "best.json").read_text())
    assert (scores["windows"], scores["step"], scores["classes"]) == (1, 2, "common")
    assert scores["checkpoint"] == str(trained / "vae" / "checkpoints" / best["files"]["model"]["file"])


def test_reconstruct_writes_a_synthtown_dataset(trained, tmp_path, capsys):
    out = tmp_path / "rec"
    argv = ["reconstruct", trained / "vae", "--data", trained / "town", *SYNTH, "--out", out, "--max-windows",
            "1", "--no-gifs", "--device", "cpu"]  # fmt: skip
    code, printed, _ = run(argv, capsys)
    assert (code, printed) == (0, f"wrote 1 reconstructions to {out}\n")
    manifest = json.loads((out / "dataset.json").read_text())
    (scene,) = manifest["scenes"]
    assert np.load(out / scene["name"] / "labels.npy").shape == (4, 16, 16, 4)
    assert not (out / "gifs").exists()


def test_encode_writes_every_window(trained):
    """The fixture's encode: 3 scenes of 10 frames give 7 windows of 4 frames each at stride 1."""
    code, printed = trained.said["encode"]
    assert (code, printed) == (0, f"encoded 21 windows to {trained / 'lat'}\n")
    manifest = json.loads((trained / "lat" / "manifest.json").read_text())
    assert manifest["windows"] == 21 and manifest["coordinates"] == "ego"
    assert all((trained / "lat" / shard).is_file() for shard in manifest["shards"])
