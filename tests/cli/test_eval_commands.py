"""The evaluation commands from the command line: train-evaluator, eval-gen, demo, stats. Their options, the
usage errors (status 2) and one-line bad-input errors (status 1) that leave OUT alone, and what
train-evaluator writes when it succeeds. (demo and stats take half a minute and more to succeed: their
successes are left to tests/pipeline and tests/bench.)"""

from __future__ import annotations

import json

import pytest

from tests.cli import help_text, one_line_error, run, usage_error

SYNTH = ["--format", "synthtown"]
SHIPPED_EVALUATORS = "shipped evaluators: synthtown, synthtown-v2"


@pytest.fixture(scope="module")
def town64(tmp_path_factory):
    """Two SynthTown scenes of one 16-frame window each on the shipped evaluator's 64x64x8 grid."""
    from dynamiccity.synthtown.dataset import synthesize

    root = tmp_path_factory.mktemp("town64")
    synthesize(root, scenes=2, frames=16, grid=(64, 64, 8), seed=1, val_fraction=0.5)
    return root


@pytest.mark.parametrize(
    ("command", "options"),
    [
        ("train-evaluator", ["--out", "--data", "--format", "--config", "--steps", "--epochs", "--set", "--resume",
                             "--overwrite", "--mask"]),
        ("eval-gen", ["--evaluator", "--real", "--fake", "--real-format", "--fake-format", "--json",
                      "--max-windows", "--references", "--subsets", "--break"]),
        ("demo", ["--out", "--vae", "--dit", "--seed", "--frames"]),
        ("stats", ["--vae", "--dit", "--json", "--device", "--repeats"]),
    ],
)  # fmt: skip
def test_help_names_the_options(capsys, monkeypatch, command, options):
    out = help_text([command], capsys, monkeypatch)
    assert [o for o in options if o not in out] == []


def test_usage_errors(trained, tmp_path, capsys):
    out, json_out, town = tmp_path / "out", tmp_path / "scores.json", trained / "town"
    gen = ["eval-gen", "--evaluator", "synthtown", "--real", town, "--fake", town, "--json", json_out]
    stats = ["stats", "--vae", trained / "vae", "--json", json_out]
    cases = [
        (["train-evaluator"], "Missing option '--out'."),
        (["train-evaluator", "--out", out, "--steps", "1", "--data", town],
         "Invalid value: --data and --format go together."),
        (["train-evaluator", "--out", out, "--steps", "1", "--data", town, "--format", "bogus"],
         "Invalid value for '--format' / '-f': Value error, 'bogus' is not one of 'carlasc',"),
        (["train-evaluator", "--out", out, "--steps", "0"], "Invalid value for '--steps'"),
        (["eval-gen", "--real", town, "--fake", town], "Missing option '--evaluator'."),
        ([*gen, "--break", "bogus"],
         "Invalid value for '--break': Value error, 'bogus' is not one of 'time_shuffled', 'classes_permuted', "
         "'frames_mixed'."),
        ([*gen, "--max-windows", "1"], "Invalid value for '--max-windows'"),
        ([*gen, "--subsets", "-1"], "Invalid value for '--subsets'"),
        (["demo", "--out", out, "--frames", "7"], "Invalid value for '--frames'"),
        (["demo", "--out", out, "--bogus"], "No such option: --bogus"),
        (stats, "Missing option '--dit'."),
        ([*stats, "--dit", trained / "dit", "--repeats", "0"], "Invalid value for '--repeats'"),
    ]  # fmt: skip
    for argv, message in cases:
        assert message in usage_error(*run(argv, capsys)), argv
    assert not out.exists() and not json_out.exists()


def test_train_evaluator_bad_input_is_one_line_and_makes_no_run(trained, tmp_path, capsys):
    out, missing, town = tmp_path / "out", tmp_path / "missing", trained / "town"
    cases = [
        (["--steps", "1"], "say which data: --data PATH --format FORMAT, or data.path and data.format in a file."),
        (["--steps", "1", "--data", missing, *SYNTH], f"{missing}: dataset folder does not exist."),
        (["--data", town, *SYNTH], "say how long to train: --steps N or --epochs N (or train.steps in a config file)."),
        (["--steps", "1", "--data", town, *SYNTH, "--set", "nokey=3"], "unknown config key 'nokey'."),
        (["--steps", "1", "--config", tmp_path / "e.yaml"], f"{tmp_path / 'e.yaml'}: no such config file."),
        (["--steps", "1", "--data", town, *SYNTH], f"{town}: no training windows of 16 frames."),
    ]  # fmt: skip
    for argv, message in cases:
        assert one_line_error(*run(["train-evaluator", "--out", out, *argv], capsys)) == message, argv
    assert not out.exists()


def test_train_evaluator_refuses_a_folder_that_holds_a_run(trained, tmp_path, capsys):
    out = tmp_path / "run"
    (out / "checkpoints").mkdir(parents=True)
    argv = ["train-evaluator", "--out", out, "--steps", "1", "--data", trained / "town", *SYNTH, "--set",
            "frames=4", "--set", "grid=[16,16,4]"]  # fmt: skip
    message = one_line_error(*run(argv, capsys))
    assert message == f"{out}: holds a run already; --resume continues it, --overwrite replaces it."
    assert [p.name for p in out.iterdir()] == ["checkpoints"] and not any((out / "checkpoints").iterdir())


def test_train_evaluator_writes_the_run_it_summarises(trained, tmp_path, capsys):
    out = tmp_path / "evaluator"
    argv = ["train-evaluator", "--out", out, "--steps", "1", "--data", trained / "town", *SYNTH, "--set",
            "frames=4", "--set", "grid=[16,16,4]", "--device", "cpu"]  # fmt: skip
    code, printed, _ = run(argv, capsys)
    summary = json.loads((out / "summary.json").read_text())
    assert code == 0 and summary["step"] == 1
    assert printed.splitlines()[-1] == f"done: step 1, validation {json.dumps(summary['metrics'])}"
    assert json.loads((out / "checkpoints" / "last.json").read_text())["step"] == 1
    assert (out / "protocol.json").is_file() and (out / "config.yaml").is_file()


def test_train_evaluator_with_too_few_windows_for_a_batch_makes_no_run(trained, tmp_path, capsys):
    out = tmp_path / "out"
    argv = ["train-evaluator", "--out", out, "--steps", "1", "--data", trained / "town", *SYNTH, "--set",
            "frames=4", "--set", "grid=[16,16,4]", "--set", "batch_size=64", "--device", "cpu"]  # fmt: skip
    code, printed, err = run(argv, capsys)
    assert (code, printed) == (1, "") and "fewer than one batch" in err
    assert not out.exists()


def test_eval_gen_bad_input_is_one_line_naming_it(trained, town64, tmp_path, capsys):
    json_out, missing, town = tmp_path / "scores.json", tmp_path / "missing", trained / "town"
    cases = [
        (["--evaluator", "nope", "--real", town64, "--fake", town64],
         f"nope: no such run folder, and not the name of a shipped evaluator ({SHIPPED_EVALUATORS})."),
        (["--evaluator", trained / "vae", "--real", town64, "--fake", town64],
         f"{trained / 'vae'}: not a run of this kind (unknown evaluator run config key 'bank')."),
        (["--evaluator", "synthtown", "--real", missing, "--fake", town64],
         f"{missing}: dataset folder does not exist."),
        (["--evaluator", "synthtown", "--real", town64, "--fake", missing],
         f"{missing}: dataset folder does not exist."),
        (["--evaluator", "synthtown", "--real", town, "--fake", town64],
         f"{town}: grid (16, 16, 4) does not match the model's (64, 64, 8)."),
    ]  # fmt: skip
    for argv, message in cases:
        said = run(["eval-gen", *argv, "--json", json_out, "--device", "cpu"], capsys)
        assert one_line_error(*said) == message, argv
        assert not json_out.exists()


def test_eval_gen_refuses_a_max_windows_too_small_by_name(town64, tmp_path, capsys):
    json_out = tmp_path / "scores.json"
    argv = ["eval-gen", "--evaluator", "synthtown", "--real", town64, "--fake", town64, "--max-windows", "2",
            "--json", json_out, "--device", "cpu"]  # fmt: skip
    code, printed, err = run(argv, capsys)
    assert code in (1, 2) and printed == "" and "--max-windows" in err
    assert not json_out.exists()


def test_demo_bad_model_is_one_line_and_writes_nothing(trained, tmp_path, capsys):
    out, missing = tmp_path / "demo", tmp_path / "missing"
    cases = [
        (["--vae", missing],
         f"{missing}: no such run folder, and not the name of a shipped vae (shipped vaes: synthtown, synthtown-centred, "
         "synthtown-refined)."),
        (["--dit", missing], f"{missing}: no such run folder, and not the name of a shipped dit (shipped dits: synthtown)."),
        (["--vae", trained / "dit"],
         f"{trained / 'dit'}: not a run of this kind (unknown run config key 'condition_dropout')."),
    ]  # fmt: skip
    for argv, message in cases:
        assert one_line_error(*run(["demo", "--out", out, *argv], capsys)) == message, argv
        assert not out.exists()


def test_stats_bad_input_is_one_line_and_writes_nothing(trained, tmp_path, capsys):
    json_out, missing = tmp_path / "stats.json", tmp_path / "missing"
    vae, dit = trained / "vae", trained / "dit"
    cases = [
        ([vae, dit, "--device", "tpu"], "device must be one of cpu, cuda, got 'tpu'."),
        ([missing, dit], f"{missing}: no such run folder, and not the name of a shipped vae (shipped vaes: "
                         "synthtown, synthtown-centred, synthtown-refined)."),
        ([vae, missing], f"{missing}: no such run folder, and not the name of a shipped dit (shipped dits: synthtown)."),
        ([dit, dit], f"{dit}: not a run of this kind (unknown run config key 'condition_dropout')."),
    ]  # fmt: skip
    for (vae_dir, dit_dir, *extra), message in cases:
        argv = ["stats", "--vae", vae_dir, "--dit", dit_dir, "--json", json_out, "--repeats", "1", *extra]
        assert one_line_error(*run(argv, capsys)) == message, argv
        assert not json_out.exists()
