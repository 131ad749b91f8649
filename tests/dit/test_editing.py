"""Latent-space editing: which HexPlane features an XY mask regenerates, and shifting for outpainting."""

from __future__ import annotations

import pytest
import torch

from dynamiccity.dit.editing import latent_mask, regenerated, shift
from dynamiccity.hexplane import HexPlane, plane_shapes

SIZES = (3, 8, 6, 2)  # T', X', Y', Z'


def numbered(sizes=SIZES) -> HexPlane:
    """A one-channel HexPlane whose xy value is 100 x + y and whose other planes count along their axes."""
    t, x, y, z = sizes
    gx, gy = torch.meshgrid(torch.arange(x), torch.arange(y), indexing="ij")
    planes = {name: torch.rand(1, 1, *shape) for name, shape in plane_shapes(sizes).items()}
    planes["xy"] = (100.0 * gx + gy)[None, None].float()
    planes["xz"] = torch.arange(x)[None, None, :, None].float().expand(1, 1, x, z).clone()
    planes["ty"] = torch.arange(y)[None, None, None, :].float().expand(1, 1, t, y).clone()
    return HexPlane.from_planes(planes)


def test_an_inner_region_regenerates_only_the_xy_plane_there():
    xy = torch.zeros(8, 6, dtype=torch.bool)
    xy[2:5, 1:4] = True
    mask = regenerated(xy, SIZES)
    assert torch.equal(mask.xy[0, 0], xy)
    for name in ("xz", "yz", "tx", "ty", "tz"):
        assert not getattr(mask, name).any(), name


def test_a_strip_across_the_scene_regenerates_the_planes_of_its_axis():
    xy = torch.zeros(8, 6, dtype=torch.bool)
    xy[6:, :] = True  # every y of x = 6, 7
    mask = regenerated(xy, SIZES)
    assert mask.xz[0, 0, 6:].all() and not mask.xz[0, 0, :6].any()
    assert mask.tx[0, 0, :, 6:].all() and not mask.tx[0, 0, :, :6].any()
    assert not mask.yz.any() and not mask.ty.any() and not mask.tz.any()
    assert regenerated(torch.ones(8, 6, dtype=torch.bool), SIZES).tz.all()
    with pytest.raises(ValueError, match=r"an XY latent mask must be \(8, 6\)"):
        regenerated(torch.zeros(6, 8, dtype=torch.bool), SIZES)


def test_a_latent_cell_is_regenerated_where_any_of_its_voxels_is():
    voxels = torch.zeros(16, 12, dtype=torch.bool)
    voxels[5, 7] = True
    cells = latent_mask(voxels, (8, 6))
    assert cells.sum() == 1 and cells[2, 3]
    with pytest.raises(ValueError, match="does not divide"):
        latent_mask(torch.zeros(15, 12, dtype=torch.bool), (8, 6))


@pytest.mark.parametrize("direction", ["+x", "-x", "+y", "-y"])
def test_shifting_slides_the_window_and_marks_the_new_strip(direction):
    h = numbered()
    moved, new = shift(h, direction, 2)
    xy, old = moved.xy[0, 0], h.xy[0, 0]
    if direction == "+x":  # the window moves forward: what was at x = 2.. is now at x = 0..
        assert torch.equal(xy[:6], old[2:]) and (xy[6:] == 0).all() and new[6:].all() and not new[:6].any()
        assert torch.equal(moved.xz[0, 0, :6], h.xz[0, 0, 2:])
    if direction == "-x":
        assert torch.equal(xy[2:], old[:6]) and (xy[:2] == 0).all() and new[:2].all() and not new[2:].any()
    if direction == "+y":
        assert torch.equal(xy[:, :4], old[:, 2:]) and new[:, 4:].all() and not new[:, :4].any()
        assert torch.equal(moved.ty[0, 0, :, :4], h.ty[0, 0, :, 2:])
        assert torch.equal(moved.xz, h.xz)  # planes that do not span y stay
    if direction == "-y":
        assert torch.equal(xy[:, 2:], old[:, :4]) and new[:, :2].all()
    assert torch.equal(moved.tz, h.tz)


def test_bad_shifts_are_refused():
    with pytest.raises(ValueError, match="unknown direction"):
        shift(numbered(), "up", 1)
    with pytest.raises(ValueError, match=r"a shift must be 1..5 latent cells along y"):
        shift(numbered(), "+y", 6)


def test_growing_on_a_canvas_regenerates_every_feature_a_new_column_touches():
    xy = torch.zeros(8, 6, dtype=torch.bool)
    xy[6:, :] = True
    xy[:, 5] = True  # an L: a strip across x = 6, 7 and one across y = 5
    mask = regenerated(xy, SIZES, where="any")
    assert mask.xz[0, 0].all() and mask.yz[0, 0].all() and mask.tz.all()
    assert torch.equal(mask.xy[0, 0], xy)
    with pytest.raises(ValueError, match="where must be"):
        regenerated(xy, SIZES, where="some")
