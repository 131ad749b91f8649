"""The latent bank: each window's latent keeps its own Adam state from one visit to the next."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from dynamiccity.hexplane import PLANES, HexPlane
from dynamiccity.vae.bank import LatentBank


def hexplane(batch: int, seed: int = 0) -> HexPlane:
    g = torch.Generator().manual_seed(seed)
    shapes = {"xy": (4, 4), "xz": (4, 2), "yz": (4, 2), "tx": (2, 4), "ty": (2, 4), "tz": (2, 2)}
    return HexPlane.from_planes({p: torch.randn(batch, 3, *shapes[p], generator=g) for p in PLANES})


def quadratic(target: HexPlane):
    """A loss of a batch-1 HexPlane with its minimum at `target`."""
    return lambda z: sum(((a - b) ** 2).sum() for a, b in zip(z.planes(), target.planes(), strict=True))


def test_two_visits_take_the_steps_of_one_uninterrupted_adam():
    start, target = hexplane(3), hexplane(1, seed=1)
    bank = LatentBank.starting_at(start)
    bank.visit(1, quadratic(target), steps=2, lr=0.1)
    bank.visit(1, quadratic(target), steps=3, lr=0.1)
    planes = [p[1:2].clone().requires_grad_(True) for p in start.planes()]
    optim = torch.optim.Adam(planes, lr=0.1)
    for _ in range(5):
        optim.zero_grad()
        quadratic(target)(HexPlane(*planes)).backward()
        optim.step()
    for mine, theirs in zip(bank.latent([1]).planes(), planes, strict=True):
        torch.testing.assert_close(mine, theirs.detach())
    assert bank.state["steps"].tolist() == [0.0, 5.0, 0.0]
    for other in (0, 2):  # the windows not visited stay where they started
        for mine, theirs in zip(
            bank.latent([other]).planes(), start[other : other + 1].planes(), strict=True
        ):
            assert torch.equal(mine, theirs)


def test_a_visit_gives_the_network_no_gradient():
    net = nn.Conv2d(3, 3, 1)
    bank = LatentBank.starting_at(hexplane(2))
    bank.visit(0, lambda z: sum(net(p).square().mean() for p in z.planes()), steps=2, lr=0.1)
    assert all(p.grad is None for p in net.parameters())


def test_rows_move_between_banks():
    a, b = LatentBank.starting_at(hexplane(4)), LatentBank.starting_at(hexplane(4, seed=2))
    a.visit(3, quadratic(hexplane(1, seed=3)), steps=1, lr=0.1)
    b.set_rows([0, 3], a.rows([2, 3]))
    for name in a.state:
        assert torch.equal(b.state[name][[0, 3]], a.state[name][[2, 3]])


def test_a_bank_state_with_a_missing_tensor_is_refused():
    state = dict(LatentBank.starting_at(hexplane(2)).state)
    del state["exp_avg.tz"]
    with pytest.raises(ValueError, match=r"missing \['exp_avg.tz'\]"):
        LatentBank(state)
