"""The benchmark commands from the command line: bench vae, bench dit, bench evaluator. Their options, the
usage errors (status 2) and one-line bad-input errors (status 1) that write no --json, and the cheapest of
them run once."""

from __future__ import annotations

import json

import pytest

from tests.cli import help_text, one_line_error, run, usage_error


@pytest.mark.parametrize(
    ("command", "options"),
    [
        (["bench"], ["vae", "dit", "evaluator"]),
        (["bench", "vae"], ["--preset", "--encoder", "--decoder", "--batch", "--repeats", "--device", "--set",
                            "--lovasz-bins", "--json"]),
        (["bench", "dit"], ["--preset", "--sampler", "--repeats", "--device", "--json"]),
        (["bench", "evaluator"], ["--scenes", "--device", "--json"]),
    ],
)  # fmt: skip
def test_help_names_the_options(capsys, monkeypatch, command, options):
    out = help_text(command, capsys, monkeypatch)
    assert [o for o in options if o not in out] == []


def test_bench_alone_shows_its_commands_and_fails(capsys, monkeypatch):
    monkeypatch.setenv("COLUMNS", "200")
    code, out, err = run(["bench"], capsys)
    assert (code, err) == (2, "") and "Usage: dynamiccity bench [OPTIONS] COMMAND [ARGS]..." in out
    assert "Speed and memory benchmarks (JSON results)." in out
    assert all(f"│ {name} " in out for name in ("vae", "dit", "evaluator"))


def test_usage_errors(tmp_path, capsys):
    json_out = tmp_path / "bench.json"
    vae = ["bench", "vae", "--preset", "synthtown-micro", "--json", json_out]
    dit = ["bench", "dit", "--preset", "synthtown-micro", "--json", json_out]
    cases = [
        (["bench", "nope"], "No such command 'nope'."),
        ([*vae, "--repeats", "0"], "Invalid value for '--repeats'"),
        ([*vae, "--batch", "0"], "Invalid value for '--batch'"),
        ([*vae, "--lovasz-bins", "-1"], "Invalid value for '--lovasz-bins'"),
        ([*vae, "--set", "lr"], "Invalid value: --set takes key=value, got 'lr'."),
        ([*vae, "--bogus"], "No such option: --bogus"),
        ([*dit, "--sampler", "euler-20"], "Invalid value: --sampler takes NAME-STEPS (ddpm|ddim|dpmpp), got 'euler-20'."),
        ([*dit, "--sampler", "dpmpp"], "Invalid value: --sampler takes NAME-STEPS (ddpm|ddim|dpmpp), got 'dpmpp'."),
        ([*dit, "--repeats", "0"], "Invalid value for '--repeats'"),
        (["bench", "evaluator", "--scenes", "3", "--json", json_out], "Invalid value for '--scenes'"),
    ]  # fmt: skip
    for argv, message in cases:
        assert message in usage_error(*run(argv, capsys)), argv
    assert not json_out.exists()


def test_bench_vae_bad_config_is_one_line(tmp_path, capsys):
    json_out = tmp_path / "bench.json"
    cases = [
        (["--preset", "nope"],
         "unknown VAE preset 'nope'; choose one of carlasc, occ3d-waymo, occ3d-nuscenes, semantickitti, "
         "synthtown-tiny, synthtown-micro."),
        (["--encoder", "bogus"], "encoder must be one of ('projection', 'avgpool', 'iterative'), got 'bogus'."),
        (["--decoder", "bogus"], "decoder must be one of ('ess', 'query'), got 'bogus'."),
        (["--set", "nokey=1"], "unknown VAE config key 'nokey'."),
    ]  # fmt: skip
    for argv, message in cases:
        said = run(["bench", "vae", "--preset", "synthtown-micro", *argv, "--json", json_out], capsys)
        assert one_line_error(*said) == message, argv
        assert not json_out.exists()


def test_bench_dit_unknown_preset_is_one_line(tmp_path, capsys):
    json_out = tmp_path / "bench.json"
    said = run(["bench", "dit", "--preset", "nope", "--json", json_out], capsys)
    assert one_line_error(*said).startswith("unknown DiT preset 'nope'")
    assert not json_out.exists()


@pytest.mark.parametrize(
    "command", [["vae", "--preset", "synthtown-micro"], ["dit", "--preset", "synthtown-micro"], ["evaluator"]]
)
def test_bench_unknown_device_is_a_usage_error(tmp_path, capsys, command):
    json_out = tmp_path / "bench.json"
    said = run(["bench", *command, "--device", "tpu", "--json", json_out], capsys)
    assert "Invalid value for '--device': Value error, 'tpu' is not one of 'cpu', 'cuda'." in usage_error(
        *said
    )
    assert not json_out.exists()


def test_bench_evaluator_writes_the_json_it_prints(tmp_path, capsys):
    json_out = tmp_path / "results" / "evaluator.json"
    argv = ["bench", "evaluator", "--scenes", "4", "--device", "cpu", "--json", json_out]
    code, printed, _ = run(argv, capsys)
    assert code == 0 and json.loads(printed) == json.loads(json_out.read_text())
    result = json.loads(printed)
    assert (result["scenes"], result["window"], result["device"]) == (4, [16, 64, 64, 8], "cpu")
    assert result["total_s"] == pytest.approx(result["features_s"] + result["metrics_s"], rel=1e-9)
