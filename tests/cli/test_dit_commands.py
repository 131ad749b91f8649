"""The DiT commands from the command line: train-dit, sample, eval-forecast, eval-dit, city. Their options,
the usage errors (status 2) and one-line bad-input errors (status 1) that leave OUT alone, and what each
writes when it succeeds (the micro runs of `trained`)."""

from __future__ import annotations

import json

import numpy as np
import pytest

from tests.cli import help_text, one_line_error, run, usage_error

SHIPPED_DITS = "shipped dits: synthtown"
SHIPPED_VAES = "shipped vaes: synthtown, synthtown-centred, synthtown-refined"


@pytest.mark.parametrize(
    ("command", "options"),
    [
        ("train-dit", ["--out", "--preset", "--config", "--latents", "--steps", "--epochs", "--set",
                       "--unconditional", "--resume", "--overwrite"]),
        ("sample", ["--dit", "--vae", "--num", "--out", "--sampler", "--steps", "--seed", "--command",
                    "--trajectory", "--layout", "--extend", "--cfg-scale", "--inpaint", "--mask", "--outpaint",
                    "--direction", "--data"]),
        ("eval-forecast", ["--data", "--dit", "--vae", "--protocol", "--json", "--max-windows",
                           "--with-trajectory", "--votes", "--quorum"]),
        ("eval-dit", ["--json", "--windows", "--repeats", "--t-min", "--batch", "--ema"]),
        ("city", ["--dit", "--vae", "--size", "--frames", "--out", "--condition-scene", "--data"]),
    ],
)  # fmt: skip
def test_help_names_the_options(capsys, monkeypatch, command, options):
    out = help_text([command], capsys, monkeypatch)
    assert [o for o in options if o not in out] == []


def test_usage_errors(trained, tmp_path, capsys):
    out, json_out = tmp_path / "out", tmp_path / "scores.json"
    pair = ["--dit", trained / "dit", "--vae", trained / "vae"]
    sample = ["sample", *pair, "--num", "1", "--out", out]
    city = ["city", *pair, "--out", out, "--frames", "4"]
    forecast = ["eval-forecast", "--data", trained / "town", "--json", json_out]
    cases = [
        (["train-dit"], "Missing option '--out'."),
        (["train-dit", "--out", out, "--steps", "0"], "Invalid value for '--steps'"),
        (["sample", *pair, "--out", out], "Missing option '--num'."),
        ([*sample, "--sampler", "euler"],
         "Invalid value for '--sampler': Value error, 'euler' is not one of 'ddpm', 'ddim', 'dpmpp'."),
        ([*sample, "--command", "fly"],
         "Invalid value for '--command': Value error, 'fly' is not one of 'static', 'forward', 'left', 'right'."),
        ([*sample, "--direction", "+z"],
         "Invalid value for '--direction': Value error, '+z' is not one of '+x', '-x', '+y', '-y'."),
        ([*sample, "--steps", "0"], "Invalid value for '--steps'"),
        (["eval-forecast"], "Missing option '--data'."),
        ([*forecast, "--protocol", "bogus"],
         "Invalid value for '--protocol': Value error, 'bogus' is not one of 'occworld', 'dome', 'i2world'."),
        ([*forecast, "--protocol", "occworld", "--dit", trained / "dit"],
         "Invalid value for --dit/--vae: --protocol scores the baselines only"),
        ([*forecast, "--dit", trained / "dit"],
         "Invalid value for --dit/--vae: forecasting with the DiT needs both --dit and --vae."),
        ([*forecast, *pair, "--votes", "0"], "Invalid value for '--votes'"),
        (["eval-dit"], "Missing argument 'dit'."),
        (["eval-dit", trained / "dit", "--json", json_out, "--windows", "0"], "Invalid value for '--windows'"),
        (["city", *pair, "--out", out, "--size", "16", "16"], "Missing option '--frames'."),
        ([*city, "--size", "16"], "Option '--size' requires 2 arguments."),
        ([*city, "--size", "16", "x"], "Invalid value for '--size'"),
        ([*city, "--size", "16", "16", "--sampler", "euler"], "Invalid value for '--sampler'"),
    ]  # fmt: skip
    for argv, message in cases:
        assert message in usage_error(*run(argv, capsys)), argv
    assert not out.exists() and not json_out.exists()


def test_train_dit_bad_input_is_one_line_and_makes_no_run(trained, tmp_path, capsys):
    out, missing = tmp_path / "out", tmp_path / "missing"
    latents = ["--latents", trained / "lat"]
    cases = [
        (["--preset", "synthtown-micro", "--latents", missing, "--steps", "1"],
         f"{missing / 'manifest.json'}: no latent manifest (run `dynamiccity encode` first)."),
        (["--preset", "synthtown-micro", "--latents", trained / "town", "--steps", "1"],
         f"{trained / 'town' / 'manifest.json'}: no latent manifest (run `dynamiccity encode` first)."),
        ([*latents, "--steps", "1"], "say which model preset: --preset NAME, or a config file with `preset:`."),
        (["--preset", "nope", *latents, "--steps", "1"],
         "unknown DiT preset 'nope'; choose one of carlasc, occ3d-waymo, occ3d-nuscenes, synthtown-tiny, "
         "synthtown-micro."),
        (["--preset", "synthtown-micro", *latents],
         "say how long to train: --steps N or --epochs N (or train.steps in a config file)."),
        (["--preset", "synthtown-micro", *latents, "--steps", "1", "--set", "nokey=1"],
         "unknown config key 'nokey'."),
    ]  # fmt: skip
    for argv, message in cases:
        assert one_line_error(*run(["train-dit", "--out", out, *argv], capsys)) == message, argv
    assert not out.exists()


def test_train_dit_refuses_the_folder_of_another_run(trained, tmp_path, capsys):
    """OUT holding a run (here a copy of the VAE run's config alone) is refused and left as it was."""
    out = tmp_path / "run"
    out.mkdir()
    (out / "config.yaml").write_text((trained / "vae" / "config.yaml").read_text())
    argv = ["train-dit", "--preset", "synthtown-micro", "--latents", trained / "lat", "--out", out, "--steps",
            "1"]  # fmt: skip
    message = one_line_error(*run(argv, capsys))
    assert message == f"{out}: holds a run already; --resume continues it, --overwrite replaces it."
    assert [p.name for p in out.iterdir()] == ["config.yaml"]


def test_train_dit_with_too_few_windows_for_a_batch_makes_no_run(trained, tmp_path, capsys):
    out = tmp_path / "out"
    argv = ["train-dit", "--preset", "synthtown-micro", "--latents", trained / "lat", "--out", out, "--steps",
            "1", "--set", "batch_size=64"]  # fmt: skip
    code, printed, err = run(argv, capsys)
    assert (code, printed) == (1, "") and "fewer than one batch" in err
    assert not out.exists()


def test_train_dit_succeeds_with_the_run_it_promises(trained):
    code, out = trained.said["train-dit"]
    summary = json.loads((trained / "dit" / "summary.json").read_text())
    assert code == 0 and summary["step"] == 2
    assert out.splitlines()[-1] == f"done: step 2, validation {json.dumps(summary['metrics'])}"
    last = json.loads((trained / "dit" / "checkpoints" / "last.json").read_text())
    assert last["step"] == 2 and set(last["files"]) >= {"model", "ema"}
    assert (trained / "dit" / "latent_manifest.json").is_file()


def test_sample_bad_input_is_one_line_and_writes_nothing(trained, tmp_path, capsys):
    out, missing, town = tmp_path / "out", tmp_path / "missing", trained / "town"
    empty = tmp_path / "empty"
    empty.mkdir()
    vae, dit = ["--vae", trained / "vae"], ["--dit", trained / "dit"]
    pair, data = [*dit, *vae], ["--data", town]
    cases = [
        (["--dit", missing, *vae], f"{missing}: no such run folder, and not the name of a shipped dit ({SHIPPED_DITS})."),
        ([*dit, "--vae", missing], f"{missing}: no such run folder, and not the name of a shipped vae ({SHIPPED_VAES})."),
        (["--dit", empty, *vae], f"{empty / 'checkpoints' / 'last.json'}: no checkpoint here."),
        (["--dit", trained / "vae", *vae],
         f"{trained / 'vae'}: not a run of this kind (unknown DiT run config key 'bank')."),
        ([*pair, *data, "--inpaint", "scene_0000", "--outpaint", "scene_0000", "--mask", "0:4,0:4"],
         "inpaint or outpaint a scene, not both at once."),
        ([*pair, *data, "--inpaint", "scene_0000"], "inpainting needs a mask: a PNG, an .npy or x0:x1,y0:y1 (voxels)."),
        ([*pair, *data, "--mask", "0:4,0:4"], "a mask was given but no scene to inpaint."),
        ([*pair, "--inpaint", "scene_0000", "--mask", "0:4,0:4"],
         "scene 'scene_0000' named, but no dataset to find it in (--data)."),
        ([*pair, *data, "--condition-scene", "nosuch"],
         f"{town}: no scene 'nosuch' (scenes: scene_0000, scene_0001, scene_0002)."),
        ([*pair, *data, "--inpaint", "scene_0000", "--mask", "0:4;0:4"],
         "0:4;0:4: no such mask file (expected a PNG, an .npy or x0:x1,y0:y1)."),
        ([*pair, "--trajectory", tmp_path / "path.npy"], f"{tmp_path / 'path.npy'}: no such trajectory file."),
        ([*pair, *data, "--single-frame", "scene_0000"],
         "single frame 'scene_0000': expected SCENE:FRAME, e.g. scene_0003:0."),
    ]  # fmt: skip
    for argv, message in cases:
        said = run(["sample", *argv, "--num", "1", "--out", out, "--device", "cpu"], capsys)
        assert one_line_error(*said) == message, argv
        assert not out.exists()


def test_sample_writes_the_scenes_and_facts_it_prints(trained, tmp_path, capsys):
    out = tmp_path / "samples"
    argv = ["sample", "--dit", trained / "dit", "--vae", trained / "vae", "--num", "2", "--out", out, "--steps",
            "2", "--batch", "2", "--no-gifs", "--device", "cpu"]  # fmt: skip
    code, printed, _ = run(argv, capsys)
    assert code == 0 and json.loads(printed) == json.loads((out / "sample.json").read_text())
    facts = json.loads(printed)
    assert (facts["num"], facts["steps"], facts["sampler"], facts["dit_step"]) == (2, 2, "dpmpp", 2)
    manifest = json.loads((out / "dataset.json").read_text())
    assert [s["name"] for s in manifest["scenes"]] == ["sample_0000", "sample_0001"]
    assert manifest["grid"] == [16, 16, 4]
    for name in ("sample_0000", "sample_0001"):
        labels = np.load(out / name / "labels.npy")
        assert (labels.shape, labels.dtype) == ((4, 16, 16, 4), np.uint8)
    written = ["dataset.json", "sample.json", "sample_0000", "sample_0001"]
    assert sorted(p.name for p in out.iterdir()) == written


def test_eval_forecast_bad_input_is_one_line_and_writes_no_scores(trained, tmp_path, capsys):
    json_out, missing, town = tmp_path / "scores.json", tmp_path / "missing", trained / "town"
    pair = ["--dit", trained / "dit", "--vae", trained / "vae"]
    cases = [
        (["--data", missing, "--protocol", "occworld"], f"{missing}: dataset folder does not exist."),
        (["--data", town, "--protocol", "occworld"],
         f"{town}: no scene has the 11 frames at 2 Hz (2 s of history and 3 s of future) a pair needs."),
        (["--data", missing, *pair], f"{missing}: dataset folder does not exist."),
        (["--data", town, "--dit", missing, "--vae", trained / "vae"],
         f"{missing}: no such run folder, and not the name of a shipped dit ({SHIPPED_DITS})."),
        (["--data", town, *pair, "--votes", "1", "--quorum", "3"],
         "votes must be >= 1 and the quorum 1..votes, got 1 and 3."),
    ]  # fmt: skip
    for argv, message in cases:
        said = run(["eval-forecast", *argv, "--json", json_out, "--device", "cpu"], capsys)
        assert one_line_error(*said) == message, argv
        assert not json_out.exists()


def test_eval_forecast_writes_the_scores_it_prints(trained, tmp_path, capsys):
    json_out = tmp_path / "f.json"
    argv = ["eval-forecast", "--data", trained / "town", "--dit", trained / "dit", "--vae", trained / "vae",
            "--steps", "2", "--max-windows", "1", "--json", json_out, "--device", "cpu"]  # fmt: skip
    code, printed, _ = run(argv, capsys)
    assert code == 0 and json.loads(printed) == json.loads(json_out.read_text())
    scores = json.loads(printed)
    assert (scores["frames"], scores["windows"], scores["steps"], scores["votes"]) == (4, 1, 2, 1)
    names = {"dit", "dit_observed", "copy_last", "ego_copy_last", "aligned_copy"}
    assert set(scores["scores"]) == names and all(len(scores["scores"][n]["iou"]) == 4 for n in names)


def test_eval_dit_bad_run_is_one_line(trained, tmp_path, capsys):
    json_out, missing = tmp_path / "r.json", tmp_path / "missing"
    empty = tmp_path / "empty"
    empty.mkdir()
    cases = [
        (missing, f"{missing}: no such run folder, and not the name of a shipped dit ({SHIPPED_DITS})."),
        (empty, f"{empty / 'checkpoints' / 'last.json'}: no checkpoint here."),
        (trained / "vae", f"{trained / 'vae'}: not a run of this kind (unknown DiT run config key 'bank')."),
    ]
    for folder, message in cases:
        assert one_line_error(*run(["eval-dit", folder, "--json", json_out], capsys)) == message
        assert not json_out.exists()


def test_eval_dit_prints_the_table_of_the_json(trained, tmp_path, capsys):
    json_out = tmp_path / "r.json"
    argv = ["eval-dit", trained / "dit", "--json", json_out, "--windows", "1", "--repeats", "1", "--batch", "1",
            "--device", "cpu"]  # fmt: skip
    code, printed, _ = run(argv, capsys)
    result = json.loads(json_out.read_text())
    assert code == 0 and (result["dit"], result["ema"]) == (str(trained / "dit"), True)
    lines = printed.splitlines()
    assert lines[0].split() == ["conditions", "space", "time", "all"]
    rows = [f"{row:48s} {loss['space']:7.4f} {loss['time']:7.4f} {loss['all']:7.4f}"
            for row, loss in result["rows"].items()]  # fmt: skip
    assert lines[1:] == rows and "every condition null" in result["rows"]


def test_city_bad_input_is_one_line_and_writes_nothing(trained, tmp_path, capsys):
    out, missing = tmp_path / "out", tmp_path / "missing"
    pair = ["--dit", trained / "dit", "--vae", trained / "vae"]
    cases = [
        ([*pair, "--size", "33", "32"], "a city's size must be whole latent cells (2 x 2 voxels), got (33, 32)."),
        ([*pair, "--size", "32", "32", "--condition-scene", "scene_0000"],
         "scene 'scene_0000' named, but no dataset to find it in (--data)."),
        (["--dit", missing, "--vae", trained / "vae", "--size", "32", "32"],
         f"{missing}: no such run folder, and not the name of a shipped dit ({SHIPPED_DITS})."),
    ]  # fmt: skip
    for argv, message in cases:
        said = run(["city", *argv, "--frames", "4", "--out", out, "--device", "cpu"], capsys)
        assert one_line_error(*said) == message, argv
        assert not out.exists()


def test_city_writes_one_scene_and_its_facts(trained, tmp_path, capsys):
    out = tmp_path / "city"
    argv = ["city", "--dit", trained / "dit", "--vae", trained / "vae", "--size", "16", "16", "--frames", "4",
            "--out", out, "--steps", "1", "--no-gifs", "--device", "cpu"]  # fmt: skip
    code, printed, _ = run(argv, capsys)
    assert code == 0 and json.loads(printed) == json.loads((out / "city.json").read_text())
    facts = json.loads(printed)
    assert (facts["size"], facts["frames"]) == ([16, 16], 4)
    assert (facts["windows"], facts["tiles_per_window"]) == (1, 1)
    assert np.load(out / "city" / "labels.npy").shape == (4, 16, 16, 4)
    assert [s["name"] for s in json.loads((out / "dataset.json").read_text())["scenes"]] == ["city"]
    assert not (out / "gifs").exists()
