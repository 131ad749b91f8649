"""The training loop's schedule of validations: every `eval_every` steps, and the final weights too."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from dynamiccity.train.config import TrainConfig
from dynamiccity.train.distributed import DistInfo
from dynamiccity.train.loop import Stateless, Trainer


class Counting(Stateless):
    """A task of one linear layer on random data whose score rises with every validation."""

    val_split = "val"

    def __init__(self) -> None:
        self.validated_at: list[int] = []
        self.trainer: Trainer | None = None

    def build_model(self) -> nn.Module:
        return nn.Linear(2, 1)

    def train_dataset(self) -> list[torch.Tensor]:
        return [torch.randn(2) for _ in range(8)]

    def files(self) -> dict[str, str]:
        return {}

    def loss(self, model: nn.Module, batch: torch.Tensor) -> tuple[torch.Tensor, dict[str, float]]:
        return model(batch).square().mean(), {}

    def evaluate(self, model: nn.Module) -> dict[str, float]:
        self.validated_at.append(self.trainer.state.step)
        return {"score": float(len(self.validated_at))}


@pytest.mark.parametrize(("steps", "expected"), [(5, [2, 4, 5]), (4, [2, 4])])
def test_a_finished_run_validates_its_final_weights_once(tmp_path, steps, expected):
    import json

    task = Counting()
    cfg = TrainConfig(steps=steps, batch_size=2, eval_every=2, ckpt_every=100, log_every=100)
    trainer = Trainer(task, cfg, tmp_path, DistInfo(0, 1, 0, torch.device("cpu")), {"train": {}})
    task.trainer = trainer
    trainer.run()
    assert task.validated_at == expected
    assert json.loads((tmp_path / "checkpoints" / "best.json").read_text())["step"] == steps
