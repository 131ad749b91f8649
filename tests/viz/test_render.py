"""Tests of the renderers and writers in dynamiccity.viz, on tiny grids."""

from __future__ import annotations

import itertools

import imageio.v2 as imageio
import numpy as np
import pytest
from PIL import Image

from dynamiccity.data.classes import BUILDING, COLORMAP, FREE, POLE, ROAD, VEHICLE
from dynamiccity.viz import Camera, project, render_3d, render_bev, render_frames, save_animation, tile_images
from dynamiccity.viz.bev import BEV_BACKGROUND, BEV_SHADE_MIN
from dynamiccity.viz.voxels3d import BACKGROUND

SHAPES = [(16, 16, 4), (128, 128, 8)]
SMALL = (160, 120)  # 3D image size (W, H) for most tests


def random_grid(shape: tuple[int, int, int], seed: int = 0, density: float = 0.3) -> np.ndarray:
    """(X, Y, Z) uint8 labels with about `density` of the voxels occupied by random classes."""
    rng = np.random.default_rng(seed)
    labels = rng.integers(1, len(COLORMAP), size=shape, dtype=np.uint8)
    return np.where(rng.random(shape) < density, labels, FREE).astype(np.uint8)


def pixel_of(point: tuple[float, float, float], shape, size=SMALL, camera=None) -> tuple[int, int]:
    """(row, column) of the pixel whose centre is nearest to an index-space point."""
    rc, _ = project(np.array([point], dtype=np.float64), shape, size, camera)
    return int(np.round(rc[0, 0])), int(np.round(rc[0, 1]))


def test_bev_shape_dtype():
    for shape, scale in itertools.product(SHAPES, (1, 3)):
        image = render_bev(random_grid(shape), scale=scale)
        assert image.shape == (shape[0] * scale, shape[1] * scale, 3)
        assert image.dtype == np.uint8


def test_bev_empty_is_background():
    image = render_bev(np.zeros((16, 16, 4), np.uint8))
    assert (image == BEV_BACKGROUND).all()


def test_bev_colour_is_shaded_top_voxel():
    labels = random_grid((8, 6, 4), seed=1)
    image = render_bev(labels, scale=1)
    x_size, y_size, z_size = labels.shape
    for x, y in itertools.product(range(x_size), range(y_size)):
        column = labels[x, y]
        pixel = image[x_size - 1 - x, y_size - 1 - y]
        if not column.any():
            np.testing.assert_array_equal(pixel, BEV_BACKGROUND)
            continue
        z = int(np.flatnonzero(column)[-1])
        shade = BEV_SHADE_MIN + (1 - BEV_SHADE_MIN) * z / (z_size - 1)
        np.testing.assert_array_equal(pixel, np.round(COLORMAP[column[z]] * shade).astype(np.uint8))


def test_bev_orientation_forward_up_left_left():
    labels = np.zeros((16, 16, 4), np.uint8)
    labels[15, 8, 0] = ROAD  # far ahead
    labels[8, 15, 0] = VEHICLE  # far to the left
    image = render_bev(labels, scale=2)
    ahead = np.argwhere((image == np.round(COLORMAP[ROAD] * BEV_SHADE_MIN)).all(axis=2))
    left = np.argwhere((image == np.round(COLORMAP[VEHICLE] * BEV_SHADE_MIN)).all(axis=2))
    assert ahead[:, 0].max() < 2 and abs(ahead[:, 1].mean() - 14.5) < 1e-9  # rows 0-1: top
    assert left[:, 1].max() < 2 and abs(left[:, 0].mean() - 14.5) < 1e-9  # columns 0-1: left


def test_bev_invalid_not_drawn():
    labels = np.zeros((4, 4, 4), np.uint8)
    labels[1, 2, 0], labels[1, 2, 3] = ROAD, POLE
    valid = np.ones(labels.shape, dtype=bool)
    valid[1, 2, 3] = False
    pixel = render_bev(labels, valid, scale=1)[2, 1]
    np.testing.assert_array_equal(pixel, np.round(COLORMAP[ROAD] * BEV_SHADE_MIN).astype(np.uint8))
    assert (render_bev(labels, np.zeros_like(valid)) == BEV_BACKGROUND).all()


@pytest.mark.parametrize("shape", SHAPES)
def test_3d_shape_dtype(shape):
    image = render_3d(random_grid(shape), size=SMALL)
    assert image.shape == (SMALL[1], SMALL[0], 3) and image.dtype == np.uint8
    assert (image != BACKGROUND).any(axis=2).mean() > 0.1


def test_3d_default_size():
    labels = np.zeros((128, 128, 8), np.uint8)
    labels[:, :, 0] = ROAD
    image = render_3d(labels)
    assert image.shape == (384, 512, 3) and image.dtype == np.uint8


def test_3d_empty_is_background():
    assert (render_3d(np.zeros((16, 16, 4), np.uint8), size=SMALL) == BACKGROUND).all()


@pytest.mark.parametrize("shape", [(128, 128, 8), (200, 200, 16), (64, 64, 8)])
def test_3d_default_camera_fits_grid(shape):
    corners = np.array(list(itertools.product(*[(0, s) for s in shape])), dtype=np.float64)
    rc, depth = project(corners, shape)
    assert (depth > 0).all()
    assert (rc >= 0).all() and (rc[:, 0] <= 383).all() and (rc[:, 1] <= 511).all()


def test_3d_single_voxel_appears_where_projected():
    labels = np.zeros((16, 16, 4), np.uint8)
    labels[5, 9, 1] = VEHICLE
    image = render_3d(labels, size=SMALL)
    drawn = np.argwhere((image != BACKGROUND).any(axis=2))
    row, col = pixel_of((5.5, 9.5, 1.5), labels.shape)
    assert len(drawn) > 4
    assert abs(drawn[:, 0].mean() - row) < 3 and abs(drawn[:, 1].mean() - col) < 3
    assert tuple(drawn.min(axis=0)) <= (row, col) <= tuple(drawn.max(axis=0))


def test_3d_orientation_forward_up_left_left():
    def centre(x: int, y: int) -> np.ndarray:
        labels = np.zeros((16, 16, 4), np.uint8)
        labels[x, y, 0] = ROAD
        return np.argwhere((render_3d(labels, size=SMALL) != BACKGROUND).any(axis=2)).mean(axis=0)

    assert centre(14, 8)[0] < centre(2, 8)[0]  # ahead is higher in the image
    assert centre(8, 14)[1] < centre(8, 2)[1]  # left is further left


def test_3d_top_face_in_class_colour_and_sides_darker():
    labels = np.zeros((16, 16, 4), np.uint8)
    labels[5:10, 5:10, 0:2] = BUILDING
    image = render_3d(labels, size=SMALL).astype(np.int64)
    top = image[pixel_of((7.5, 7.5, 2.0), labels.shape)]
    back = image[pixel_of((5.0, 7.5, 1.0), labels.shape)]  # the face towards the camera (-x)
    np.testing.assert_array_equal(top, COLORMAP[BUILDING])
    assert (back < top).all()


def test_3d_shadow_darkens_ground_away_from_the_sun():
    labels = np.zeros((16, 16, 4), np.uint8)
    labels[:, :, 0] = ROAD
    labels[8, 8, :] = POLE  # the sun is ahead and to the left: the shadow falls behind and to the right
    image = render_3d(labels, size=SMALL).astype(np.int64)
    shadowed = image[pixel_of((7.5, 7.5, 1.0), labels.shape)]
    lit = image[pixel_of((9.5, 9.5, 1.0), labels.shape)]
    np.testing.assert_array_equal(lit, COLORMAP[ROAD])
    assert (shadowed < lit).all()


def test_3d_nearer_voxel_occludes_farther():
    shape = (32, 32, 8)
    far = np.array([20.5, 12.5, 0.5])  # a voxel centre, made the camera's target so the view axis hits it
    camera = Camera(elevation_deg=45.0, azimuth_deg=0.0, target=tuple(far / shape))
    towards_camera = np.array([-1.0, 0.0, 1.0]) / np.sqrt(2)  # minus the view direction at 45 degrees
    near = tuple(np.floor(far + 6 * towards_camera).astype(int))
    labels = np.zeros(shape, np.uint8)
    labels[tuple(np.floor(far).astype(int))] = BUILDING
    pixel = pixel_of(tuple(far), shape, camera=camera)
    alone = render_3d(labels, size=SMALL, camera=camera)[pixel]
    labels[near] = VEHICLE
    both = render_3d(labels, size=SMALL, camera=camera)[pixel]
    assert np.argmax(alone) == 0 and np.argmax(both) == 2  # orange building, then the blue vehicle in front


def test_3d_invalid_not_drawn_and_deterministic():
    labels = random_grid((16, 16, 4), seed=2)
    valid = np.random.default_rng(3).random(labels.shape) < 0.5
    masked = np.where(valid, labels, FREE).astype(np.uint8)
    image = render_3d(labels, valid, size=SMALL)
    np.testing.assert_array_equal(image, render_3d(masked, size=SMALL))
    np.testing.assert_array_equal(image, render_3d(labels, valid, size=SMALL))
    assert (render_3d(labels, np.zeros_like(valid), size=SMALL) == BACKGROUND).all()


def test_render_rejects_bad_input():
    with pytest.raises(ValueError):
        render_bev(np.zeros((4, 4), np.uint8))
    with pytest.raises(ValueError):
        render_3d(np.full((4, 4, 4), 200, np.uint8))
    with pytest.raises(ValueError):
        render_frames(np.zeros((2, 4, 4, 4), np.uint8), view="side")
    with pytest.raises(ValueError):
        Camera(elevation_deg=90.0)


def test_render_frames():
    labels = np.stack([random_grid((16, 16, 4), seed=t) for t in range(5)])
    valid = np.ones(labels.shape[1:], dtype=bool)
    images = render_frames(labels, "bev", valid=valid, frames=slice(1, 5, 2), scale=2)
    assert len(images) == 2
    np.testing.assert_array_equal(images[1], render_bev(labels[3], scale=2))
    images = render_frames(labels, "3d", size=(64, 48))
    assert len(images) == 5 and images[0].shape == (48, 64, 3)


def test_tile_images():
    a, b = np.zeros((10, 20, 3), np.uint8), np.full((6, 8, 3), 50, np.uint8)
    row = tile_images([a, b], pad=2)
    assert row.shape == (2 + 10 + 2, 2 + 2 * (20 + 2), 3) and row.dtype == np.uint8
    np.testing.assert_array_equal(row[2:12, 2:22], a)
    grid = tile_images([a, b, a], columns=2, pad=0)
    assert grid.shape == (20, 40, 3)
    captioned = tile_images([a, b], captions=["one", "two"], pad=2)
    assert captioned.shape[0] > row.shape[0] and captioned.shape[1] == row.shape[1]
    strip = captioned[: captioned.shape[0] - row.shape[0]]
    assert (strip != 255).any()  # text was drawn above the images
    with pytest.raises(ValueError):
        tile_images([a, b], captions=["one"])


def frames_of(count: int, size=(37, 25)) -> list[np.ndarray]:
    """`count` distinct (H, W, 3) uint8 frames of odd size."""
    w, h = size
    return [np.full((h, w, 3), (20 * t, 100, 255 - 20 * t), dtype=np.uint8) for t in range(count)]


def test_save_png(tmp_path):
    images = frames_of(4)
    save_animation(images[:1], tmp_path / "one.png")
    np.testing.assert_array_equal(np.asarray(Image.open(tmp_path / "one.png")), images[0])
    save_animation(images, tmp_path / "grid.png")
    assert np.asarray(Image.open(tmp_path / "grid.png")).shape == tile_images(images, columns=2).shape
    assert sorted(p.name for p in tmp_path.iterdir()) == ["grid.png", "one.png"]


def test_save_gif(tmp_path):
    images = frames_of(6)
    save_animation(images, tmp_path / "anim.gif", fps=10)
    with Image.open(tmp_path / "anim.gif") as gif:
        assert gif.n_frames == 6 and gif.info["loop"] == 0 and gif.info["duration"] == 100
        gif.seek(3)
        np.testing.assert_array_equal(np.asarray(gif.convert("RGB")), images[3])
    assert [p.name for p in tmp_path.iterdir()] == ["anim.gif"]


def test_save_mp4(tmp_path):
    images = frames_of(5)
    save_animation(images, tmp_path / "clip.mp4", fps=5)
    with imageio.get_reader(tmp_path / "clip.mp4", format="FFMPEG") as reader:
        frames = [frame for frame in reader]
    assert len(frames) == 5 and frames[0].shape == (26, 38, 3)  # padded to even sizes
    assert np.abs(frames[2][:25, :37].astype(int) - images[2]).mean() < 8
    assert [p.name for p in tmp_path.iterdir()] == ["clip.mp4"]


def test_save_rejects_unknown_suffix(tmp_path):
    with pytest.raises(ValueError, match="suffix"):
        save_animation(frames_of(2), tmp_path / "anim.avi")
    with pytest.raises(ValueError):
        save_animation([], tmp_path / "anim.gif")
    assert list(tmp_path.iterdir()) == []
