"""Which device a command runs on: the one asked for, else CUDA when there is one, else the CPU."""

from __future__ import annotations

import torch

from dynamiccity.device import pick_device


def test_an_explicit_device_wins(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    assert pick_device("cpu") == torch.device("cpu")
    assert pick_device("cuda", local_rank=1) == torch.device("cuda:1")


def test_default_is_cuda_when_available(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    assert pick_device(None, local_rank=2) == torch.device("cuda:2")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert pick_device(None) == torch.device("cpu")
