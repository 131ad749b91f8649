"""`eval-dit`: the held-out denoising loss per set of conditions shows which conditions a DiT listens to."""

from __future__ import annotations

import json
from dataclasses import replace

import torch
from torch import nn

from dynamiccity.evaluation.conditions import RelianceSpec, condition_reliance
from dynamiccity.runs.loading import load_dit
from tests.conftest import cli


class ListensToTheCommand(nn.Module):
    """A denoiser that predicts zeros plus its command (as given, not null): it ignores every other
    condition, so only rows with the command may differ from the unconditional row."""

    def forward(self, x, t, cond):
        out = torch.zeros_like(x)
        if cond.command is None:
            return out
        heard = cond.command.float() + 1
        if "command" in cond.null:
            heard = heard * ~cond.null["command"]
        return out + heard[:, None, None, None]


def test_only_the_conditions_a_model_uses_move_its_loss(runs):
    dit = replace(load_dit(runs / "dit"), model=ListensToTheCommand())
    result = condition_reliance(dit, RelianceSpec(windows=4, repeats=2, batch=3), torch.device("cpu"))
    rows = result["rows"]
    assert result["windows"] == 4 and result["split"] == "val"
    null = rows["every condition null"]
    for row in ("trajectory alone", "trajectory alone, another window's", "layout alone", "previous alone",
                "frame alone"):  # fmt: skip
        assert rows[row] == null, row
    assert rows["command alone"]["all"] > null["all"]  # a constant offset on a zero-mean target costs
    assert rows["every condition"] == rows["command alone"]
    assert rows["every condition, another window's trajectory"] == rows["every condition"]
    for row in rows.values():
        assert set(row) == {"space", "time", "all"}
        assert min(row["space"], row["time"]) <= row["all"] <= max(row["space"], row["time"])


def test_eval_dit_from_the_command_line(runs, tmp_path, capsys):
    cli("eval-dit", runs / "dit", "--windows", "2", "--repeats", "1", "--t-min", "500",
        "--json", tmp_path / "r.json", "--device", "cpu", "--no-ema")  # fmt: skip
    printed = capsys.readouterr().out
    result = json.loads((tmp_path / "r.json").read_text())
    assert (
        result["t_min"] == 500
        and result["ema"] is False
        and result["windows"] == 2
        and result["condition_dropout"] == 0.1
    )
    assert len(result["rows"]) == 11 and "command alone, another window's" in printed
    for row in result["rows"].values():
        assert all(torch.isfinite(torch.tensor(v)) for v in row.values())
