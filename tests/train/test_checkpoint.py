"""Optimizer state through a checkpoint: a restored optimizer takes exactly the steps the original would."""

from __future__ import annotations

import json

import torch

from dynamiccity.train.checkpoint import load_checkpoint, load_extra, restore_optimizer, save_checkpoint
from dynamiccity.train.loop import adamw


def _model() -> torch.nn.Module:
    torch.manual_seed(0)
    # channels-last convolution weights, as the VAE keeps them: their optimizer state must keep that layout
    return torch.nn.Sequential(torch.nn.Conv3d(3, 4, 3), torch.nn.Conv3d(4, 2, 1)).to(
        memory_format=torch.channels_last_3d
    )


def _step(model: torch.nn.Module, opt: torch.optim.Optimizer, i: int) -> None:
    x = torch.randn(2, 3, 5, 5, 5, generator=torch.Generator().manual_seed(i))
    model(x).square().mean().backward()
    opt.step()
    opt.zero_grad(set_to_none=True)


def test_restored_adamw_continues_exactly(tmp_path):
    straight = _model()
    opt = adamw(straight.parameters(), lr=1e-2)
    for i in range(4):
        _step(straight, opt, i)

    split = _model()
    opt = adamw(split.parameters(), lr=1e-2)
    for i in range(2):
        _step(split, opt, i)
    save_checkpoint(tmp_path, "last", split.state_dict(), {"step": 2}, opt)
    weights, meta = load_checkpoint(tmp_path, "last")
    resumed = _model()
    resumed.load_state_dict(weights)
    opt = adamw(resumed.parameters(), lr=1e-2)
    restore_optimizer(opt, load_extra(tmp_path, "last", "optim"), json.loads(json.dumps(meta["optimizer"])))
    for param in resumed.parameters():
        for value in opt.state[param].values():
            if value.shape == param.shape:
                assert value.stride() == param.stride()
    for i in range(2, 4):
        _step(resumed, opt, i)

    for a, b in zip(straight.parameters(), resumed.parameters(), strict=True):
        torch.testing.assert_close(a, b, rtol=0, atol=0)


def test_a_checkpoint_moves_between_fused_and_unfused(tmp_path):
    model = _model()
    fused = torch.optim.AdamW(model.parameters(), lr=1e-2, fused=True)
    _step(model, fused, 0)
    save_checkpoint(tmp_path, "last", model.state_dict(), {"step": 1}, fused)
    _, meta = load_checkpoint(tmp_path, "last")
    plain = torch.optim.AdamW(model.parameters(), lr=1e-2)
    restore_optimizer(plain, load_extra(tmp_path, "last", "optim"), meta["optimizer"])
    assert not plain.param_groups[0]["fused"] and plain.param_groups[0]["lr"] == 1e-2
    _step(model, plain, 1)
    assert all(int(plain.state[p]["step"]) == 2 for p in model.parameters())
