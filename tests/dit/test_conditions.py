"""Conditions of the DiT: each one reaches the output, null is null, guidance combines both halves, and
wrong conditions are refused in one sentence."""

from __future__ import annotations

from dataclasses import replace

import pytest
import torch

from dynamiccity.diffusion.process import guided
from dynamiccity.dit import HexPlaneDiT
from dynamiccity.dit.conditions import CONDITIONS, Conditions
from dynamiccity.generation.sampling import SampleSpec
from tests.dit.test_model import COND, MICRO, every_condition, random_map, randomise


@pytest.fixture(scope="module")
def model() -> HexPlaneDiT:
    torch.manual_seed(0)
    return randomise(HexPlaneDiT(MICRO.with_overrides(conditions=CONDITIONS, **COND))).eval()


def _out(model, cond, batch=2):
    x = random_map(model, batch, seed=5)
    with torch.no_grad():
        return model(x, torch.full((batch,), 400), cond)


@pytest.mark.parametrize("name", CONDITIONS)
def test_each_condition_changes_the_prediction_and_null_equals_left_out(model, name):
    cond = every_condition(model, 2)
    other = replace(cond, **{name: getattr(every_condition(model, 2, seed=9), name)})
    if name == "command":
        other = replace(cond, command=(cond.command + 1) % 4)
    assert not torch.allclose(_out(model, cond), _out(model, other))
    left_out = replace(cond, **{name: None})
    nulled = replace(cond, null={name: torch.tensor([True, False])})
    torch.testing.assert_close(_out(model, nulled)[0], _out(model, left_out)[0])
    torch.testing.assert_close(_out(model, nulled)[1], _out(model, cond)[1])


def test_null_half_and_guidance(model):
    cond = every_condition(model, 2)
    x, t = random_map(model, 2, seed=5), torch.full((2,), 400)
    with torch.no_grad():
        given, none = model(x, t, cond), model(x, t, None)
        torch.testing.assert_close(guided(model, cond, 1.0)(x, t), given)
        torch.testing.assert_close(guided(model, cond, 0.0)(x, t), none, rtol=1e-4, atol=1e-5)
        torch.testing.assert_close(
            guided(model, cond, 3.0)(x, t), none + 3 * (given - none), rtol=1e-4, atol=1e-5
        )


def test_guidance_prepares_the_conditions_once_and_predicts_as_unprepared(model, monkeypatch):
    cond = every_condition(model, 2)
    x, t = random_map(model, 2, seed=5), torch.full((2,), 400)
    with torch.no_grad():
        plain = [model(x, t, cond), model(torch.cat([x, x]), torch.cat([t, t]), cond.with_null_half())]
        prepare, calls = model.prepare, []
        monkeypatch.setattr(model, "prepare", lambda c, b: calls.append(b) or prepare(c, b))
        for scale, expected in zip((1.0, 3.0), plain, strict=True):
            denoise = guided(model, cond, scale)
            steps = [denoise(x, t) for _ in range(3)]
            with_cond, without = expected.chunk(2) if scale != 1 else (expected, expected)
            torch.testing.assert_close(steps[2], without + scale * (with_cond - without))
            assert torch.equal(steps[0], steps[2])
        assert calls == [2, 4]  # once per denoiser: the batch, then the doubled batch
        ready = prepare(cond, 2)
        assert torch.equal(model(x, t, ready), plain[0])
        with pytest.raises(ValueError, match="conditions prepared for 2 samples given for a batch of 4"):
            model(torch.cat([x, x]), torch.cat([t, t]), ready)


def test_guidance_in_an_interval_guides_only_its_steps(model):
    cond = every_condition(model, 2)
    x = random_map(model, 2, seed=5)
    denoise, calls = guided(model, cond, 3.0, interval=(300, 600)), []
    original = model.forward
    with torch.no_grad(), pytest.MonkeyPatch.context() as patch:
        patch.setattr(model, "forward", lambda g, t, c: calls.append(g.shape[0]) or original(g, t, c))
        inside, below, above = (denoise(x, torch.full((2,), t)) for t in (400, 100, 900))
        full = guided(model, cond, 3.0)(x, torch.full((2,), 400))
    assert calls == [4, 2, 2, 4]  # the guided steps run both halves, the others the conditional half
    torch.testing.assert_close(inside, full)
    torch.testing.assert_close(below, model(x, torch.full((2,), 100), cond))
    torch.testing.assert_close(above, model(x, torch.full((2,), 900), cond))
    with pytest.raises(ValueError, match="guidance interval must be 0 <= lo <= hi"):
        guided(model, cond, 3.0, interval=(600, 300))
    with pytest.raises(ValueError, match="guidance interval must be 0 <= lo <= hi"):
        SampleSpec(guidance_interval=(-1, 300))  # refused where a sampler is asked for, before any work


def test_dropout_draws_per_condition_and_all_at_once():
    cond = Conditions(command=torch.zeros(2000, dtype=torch.long), trajectory=torch.zeros(2000, 4, 2))
    g = torch.Generator().manual_seed(0)
    dropped = cond.dropped(0.1, 0.2, generator=g)
    command, trajectory = dropped.null["command"].float(), dropped.null["trajectory"].float()
    assert 0.25 < command.mean() < 0.31  # 1 - 0.9 * 0.8
    both = (command * trajectory).mean()
    assert 0.19 < both < 0.24  # all at once 0.2, plus both drawn alone 0.8 * 0.01


def test_layout_tokens_are_the_xy_planes_tokens(model):
    embedder = model.conditions
    x, y = MICRO.latent_sizes[1:3]
    assert embedder.layout_tokens.numel() == (x // MICRO.patch) * (y // MICRO.patch)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"command": torch.tensor([0, -1])}, "command must be one of STATIC"),
        ({"trajectory": torch.zeros(2, 3, 2)}, r"trajectory condition must be \(B, 4, 2\)"),
        ({"trajectory": torch.full((2, 4, 2), float("nan"))}, "NaN"),
        ({"layout": torch.zeros(2, 4, 8, 8)}, r"layout condition must be \(B, 4, 16, 16\)"),
        ({"previous": torch.zeros(2, 8, 5, 5)}, "previous condition must be a rolled-out HexPlane"),
        ({"command": torch.zeros(3, dtype=torch.long)}, "disagree on the batch size"),
    ],
)
def test_wrong_conditions_are_refused(model, change, message):
    with pytest.raises(ValueError, match=message):
        _out(model, replace(every_condition(model, 2), **change))


def test_a_condition_the_network_lacks_is_refused():
    only_command = HexPlaneDiT(MICRO.with_overrides(conditions=("command",), **COND))
    with pytest.raises(ValueError, match="trained without the trajectory condition"):
        _out(only_command, every_condition(only_command, 2))
    plain = HexPlaneDiT(MICRO)
    with pytest.raises(ValueError, match="trained without conditions"):
        _out(plain, Conditions(command=torch.zeros(2, dtype=torch.long)))
    assert not any(k.startswith("conditions.") for k in plain.state_dict())  # earlier checkpoints load
    assert plain.blocks[0].ada[1].out_features == 6 * MICRO.hidden


@pytest.fixture(scope="module")
def placed() -> HexPlaneDiT:
    torch.manual_seed(0)
    cfg = MICRO.with_overrides(conditions=CONDITIONS, placed=CONDITIONS, **COND)
    return randomise(HexPlaneDiT(cfg)).eval()


def test_placed_conditions_start_as_the_papers_branches():
    torch.manual_seed(0)
    paper = HexPlaneDiT(MICRO.with_overrides(conditions=("layout", "frame"), **COND))
    torch.manual_seed(0)
    ours = HexPlaneDiT(
        MICRO.with_overrides(conditions=("layout", "frame"), placed=("layout", "frame"), **COND)
    )
    assert set(ours.state_dict()) - set(paper.state_dict()) == {
        f"conditions.inplace.{n}.{w}" for n in ("layout", "frame") for w in ("weight", "bias")
    }
    ours.load_state_dict(randomise(paper).state_dict(), strict=False)  # the zero-initialised projections stay
    cond = replace(every_condition(paper, 2), command=None, trajectory=None, previous=None)
    torch.testing.assert_close(_out(ours, cond), _out(paper, cond))


@pytest.mark.parametrize("name", CONDITIONS)
def test_each_placed_condition_changes_the_prediction_and_null_equals_left_out(placed, name):
    test_each_condition_changes_the_prediction_and_null_equals_left_out(placed, name)


def test_a_placed_trajectory_reaches_only_the_time_planes_tokens_in_place(placed):
    embedder, cond = placed.conditions, every_condition(placed, 2)
    other = replace(cond, trajectory=cond.trajectory + 1.0)
    added, moved = embedder(cond, 2).added, embedder(other, 2).added
    changed = (added - moved).abs().sum((0, 2)) > 0
    assert changed.nonzero().squeeze(1).tolist() == embedder.time_tokens.tolist()
    t, x, y, z = MICRO.latent_sizes
    assert embedder.time_tokens.numel() == t * (x + y + z) // MICRO.patch**2


def test_a_trajectory_is_painted_row_by_row_on_the_time_planes(placed):
    embedder = placed.conditions
    trajectory = torch.arange(4 * 2, dtype=torch.float32).reshape(1, 4, 2) * 10  # frames 0..3, T' = 2
    planes = placed.rollout.unroll(embedder._trajectory_map(trajectory))
    assert planes.tx.shape[1] == 4  # two frames' x, y per latent time row
    torch.testing.assert_close(planes.tx[0, :, 0, 0], torch.tensor([0.0, 1.0, 2.0, 3.0]))
    torch.testing.assert_close(planes.tz[0, :, 1, -1], torch.tensor([4.0, 5.0, 6.0, 7.0]))
    assert not planes.xy.any() and not planes.yz.any()


def test_a_condition_the_network_does_not_take_cannot_be_placed():
    with pytest.raises(ValueError, match="cannot place the layout condition"):
        MICRO.with_overrides(conditions=("command",), placed=("layout",), **COND)
