import pytest
import torch

from dynamiccity.dit.rollout import PaddedRollout, build_rollout, loss_weight
from dynamiccity.hexplane import PLANES, HexPlane, plane_shapes

SIZES = [(8, 64, 64, 4), (4, 32, 32, 4), (2, 16, 16, 2), (4, 16, 24, 2)]


def random_hexplane(sizes, batch=2, channels=3, seed=0) -> HexPlane:
    g = torch.Generator().manual_seed(seed)
    shapes = plane_shapes(sizes)
    return HexPlane.from_planes({n: torch.randn(batch, channels, *shapes[n], generator=g) for n in PLANES})


@pytest.mark.parametrize("kind", ["padded", "vertical", "unfold"])
@pytest.mark.parametrize("sizes", SIZES)
@pytest.mark.parametrize("batch", [1, 3])
def test_roll_unroll_round_trip(kind, sizes, batch):
    rollout = build_rollout(kind, sizes, patch=2)
    hp = random_hexplane(sizes, batch=batch)
    grid = rollout.roll(hp)
    assert grid.shape == (batch, 3, rollout.height, rollout.width)
    back = rollout.unroll(grid)
    for name in PLANES:
        assert torch.equal(getattr(back, name), getattr(hp, name)), name
    # everything outside the real region is zero, and the real region holds every feature exactly once
    assert torch.count_nonzero(grid[:, :, ~rollout.pixel_mask()]) == 0
    assert int(rollout.pixel_mask().sum()) * 3 * batch == sum(p.numel() for p in hp.planes())


def test_padded_rollout_carlasc_token_counts():
    rollout = PaddedRollout((8, 64, 64, 4), patch=2)
    assert (rollout.height, rollout.width) == (76, 76)
    mask = rollout.token_mask()
    assert mask.numel() == 1444 and int(mask.sum()) == 1416
    assert rollout.token_grid == (38, 38)


def test_padded_rollout_places_planes_as_designed():
    sizes = (2, 4, 4, 2)
    hp = random_hexplane(sizes, batch=1, channels=1)
    grid = PaddedRollout(sizes, patch=2).roll(hp)[0, 0]
    assert torch.equal(grid[:4, :4], hp.xy[0, 0])
    assert torch.equal(grid[:4, 4:6], hp.xz[0, 0])
    assert torch.equal(grid[:4, 6:8], hp.tx[0, 0].T)
    assert torch.equal(grid[4:6, :4], hp.ty[0, 0])
    assert torch.equal(grid[4:6, 4:6], hp.tz[0, 0])
    assert torch.equal(grid[6:8, :4], hp.yz[0, 0].T)
    assert torch.count_nonzero(grid[4:, 6:]) == 0 and torch.count_nonzero(grid[6:, 4:]) == 0


def test_every_layout_has_the_same_real_tokens():
    counts = {
        k: int(build_rollout(k, (8, 64, 64, 4), 2).token_mask().sum())
        for k in ("padded", "vertical", "unfold")
    }
    assert counts == {"padded": 1416, "vertical": 1416, "unfold": 1416}


def test_bad_sizes_and_shapes_are_refused():
    with pytest.raises(ValueError, match="not divisible by patch"):
        PaddedRollout((3, 16, 16, 2), patch=2)
    with pytest.raises(ValueError, match="unknown rollout"):
        build_rollout("spiral", (8, 64, 64, 4), 2)
    rollout = PaddedRollout((4, 32, 32, 4), patch=2)
    with pytest.raises(ValueError, match="plane xy"):
        rollout.roll(random_hexplane((4, 16, 16, 4)))
    with pytest.raises(ValueError, match="map"):
        rollout.unroll(torch.zeros(1, 3, 10, 10))


@pytest.mark.parametrize("kind", ["padded", "vertical", "unfold"])
def test_plane_loss_weight_gives_every_plane_the_same_total(kind):
    rollout = build_rollout(kind, (4, 16, 24, 2), patch=2)
    mask = rollout.pixel_mask()
    assert torch.equal(loss_weight(rollout, "uniform"), mask.float())
    weight = loss_weight(rollout, "plane")
    assert (weight[~mask] == 0).all() and (weight[mask] > 0).all()
    assert weight[mask].mean().item() == pytest.approx(1.0)
    # the weight each plane receives, read back through unroll: equal totals, uniform within a plane
    planes = rollout.unroll(weight[None, None])
    totals = [getattr(planes, n).sum().item() for n in PLANES]
    assert totals == pytest.approx([totals[0]] * 6)
    for name in PLANES:
        plane = getattr(planes, name)
        assert torch.allclose(plane, plane.flatten()[0].expand_as(plane))
    with pytest.raises(ValueError, match="loss weight"):
        loss_weight(rollout, "voxel")
