"""Condition tokens pooled over blocks of the patch grid: block means, fewer tokens in the cross-attention
only, every condition still heard."""

from __future__ import annotations

from dataclasses import replace

import pytest
import torch

from dynamiccity.dit import HexPlaneDiT
from dynamiccity.dit.conditions import CONDITIONS
from dynamiccity.dit.pooling import TokenPool
from tests.dit import test_conditions
from tests.dit.test_model import COND, MICRO, every_condition, randomise


def test_a_pooled_token_is_the_mean_of_its_block():
    # a 3 x 5 grid; tokens on cells 0, 1, 5, 6 (one 2x2 block), 4 and 14 (blocks of their own)
    cells = torch.tensor([0, 1, 5, 6, 4, 14])
    pool = TokenPool(cells, cols=5, factor=2)
    tokens = torch.arange(6 * 2, dtype=torch.float32).reshape(1, 6, 2)
    pooled = pool(tokens)
    assert pool.size == 3 and pooled.shape == (1, 3, 2)
    torch.testing.assert_close(pooled[0, 0], tokens[0, :4].mean(0))
    torch.testing.assert_close(pooled[0, 1], tokens[0, 4])
    torch.testing.assert_close(pooled[0, 2], tokens[0, 5])


def test_factor_one_is_the_identity():
    tokens = torch.randn(2, 4, 3)
    assert TokenPool(torch.tensor([0, 2, 3, 7]), cols=4, factor=1)(tokens) is tokens


@pytest.fixture(scope="module")
def pooled() -> HexPlaneDiT:
    torch.manual_seed(0)
    cfg = MICRO.with_overrides(conditions=CONDITIONS, placed=("command", "layout"), context_pool=2, **COND)
    return randomise(HexPlaneDiT(cfg)).eval()


def test_pooling_shrinks_the_context_and_keeps_the_placed_branch(pooled):
    torch.manual_seed(0)
    plain = HexPlaneDiT(replace(pooled.cfg, context_pool=1))
    assert set(plain.state_dict()) == set(pooled.state_dict())  # same weights, pooling has none
    plain.load_state_dict(pooled.state_dict())
    cond = every_condition(pooled, 2)
    with torch.no_grad():
        small, full = pooled.conditions(cond, 2), plain.conditions(cond, 2)
    assert small.context.shape[1] < full.context.shape[1] / 2
    torch.testing.assert_close(small.added, full.added)
    torch.testing.assert_close(small.vector, full.vector)


@pytest.mark.parametrize("name", CONDITIONS)
def test_each_condition_is_still_heard_through_pooled_tokens(pooled, name):
    test_conditions.test_each_condition_changes_the_prediction_and_null_equals_left_out(pooled, name)


def test_a_pooling_factor_below_one_is_refused():
    with pytest.raises(ValueError, match="context_pool must be >= 1"):
        MICRO.with_overrides(conditions=CONDITIONS, context_pool=0, **COND)
