"""Rendering sequences, tiling images side by side, and writing them as PNG, GIF or MP4."""

from __future__ import annotations

import math
from collections.abc import Callable
from pathlib import Path
from typing import Literal

import imageio.v2 as imageio
import numpy as np
from PIL import Image, ImageDraw, ImageFont

from dynamiccity.atomic import atomic_path
from dynamiccity.viz.bev import render_bev
from dynamiccity.viz.voxels3d import render_3d

TILE_BACKGROUND = (255, 255, 255)
"""RGB of the padding and caption strips of a tiled image."""
CAPTION_COLOUR = (20, 20, 20)


def render_frames(
    labels: np.ndarray,
    view: Literal["bev", "3d"],
    valid: np.ndarray | None = None,
    frames: slice | None = None,
    **kw,
) -> list[np.ndarray]:
    """Render each frame of a sequence with `render_bev` or `render_3d`.

    Args:
        labels: (T, X, Y, Z) uint8 common class ids.
        view: "bev" (top-down) or "3d" (perspective).
        valid: (T, X, Y, Z) or (X, Y, Z) bool, False where a voxel is not drawn; None draws all.
        frames: which time steps to render, e.g. slice(0, 16, 2); None renders all T.
        **kw: passed to the renderer (`scale` for "bev"; `size`, `camera` for "3d").

    Returns:
        One (H, W, 3) uint8 image per selected frame.
    """
    renderers: dict[str, Callable[..., np.ndarray]] = {"bev": render_bev, "3d": render_3d}
    if view not in renderers:
        raise ValueError(f"view must be one of {sorted(renderers)}, got {view!r}")
    if labels.ndim != 4:
        raise ValueError(f"labels must be (T, X, Y, Z), got shape {labels.shape}")
    if valid is not None and valid.ndim == 3:
        valid = np.broadcast_to(valid, labels.shape)
    steps = range(labels.shape[0])[frames or slice(None)]
    return [renderers[view](labels[t], None if valid is None else valid[t], **kw) for t in steps]


def tile_images(
    images: list[np.ndarray],
    columns: int | None = None,
    captions: list[str] | None = None,
    pad: int = 4,
) -> np.ndarray:
    """Lay images out in a grid, row by row, each optionally captioned above.

    Images of different sizes sit centred in cells as large as the largest; `pad` pixels of
    `TILE_BACKGROUND` separate the cells and frame the whole.

    Args:
        images: (H_i, W_i, 3) uint8 RGB images, at least one.
        columns: cells per row; None puts all images in one row.
        captions: one text per image, drawn with PIL's default font; None draws none.
        pad: pixels between cells and around the grid, >= 0.

    Returns:
        (H, W, 3) uint8 RGB image.
    """
    _check_images(images)
    n = len(images)
    columns = n if columns is None else min(columns, n)
    if columns < 1 or pad < 0:
        raise ValueError(f"columns must be >= 1 and pad >= 0, got {columns}, {pad}")
    if captions is not None and len(captions) != n:
        raise ValueError(f"got {len(captions)} captions for {n} images")
    font = None if captions is None else ImageFont.load_default()
    strip = 0 if font is None else math.ceil(font.getbbox("Ag|")[3]) + pad  # caption strip height
    cell_h = max(im.shape[0] for im in images) + strip
    cell_w = max(im.shape[1] for im in images)
    rows = math.ceil(n / columns)
    canvas = np.empty((pad + rows * (cell_h + pad), pad + columns * (cell_w + pad), 3), dtype=np.uint8)
    canvas[:] = TILE_BACKGROUND
    corners = [
        (pad + (i // columns) * (cell_h + pad), pad + (i % columns) * (cell_w + pad)) for i in range(n)
    ]
    for (top, left), im in zip(corners, images, strict=True):
        y, x = top + strip + (cell_h - strip - im.shape[0]) // 2, left + (cell_w - im.shape[1]) // 2
        canvas[y : y + im.shape[0], x : x + im.shape[1]] = im
    if font is None:
        return canvas
    page = Image.fromarray(canvas)
    draw = ImageDraw.Draw(page)
    for (top, left), text in zip(corners, captions, strict=True):
        draw.text((left, top), text, fill=CAPTION_COLOUR, font=font)
    return np.asarray(page)


def save_animation(images: list[np.ndarray], path: str | Path, fps: float = 5.0) -> None:
    """Write images to `path` by its suffix, atomically (`dynamiccity.atomic.atomic_path`).

    - ".png": one image as is; several tiled in a near-square grid (`tile_images`).
    - ".gif": an animation looping forever. Pillow merges runs of identical frames into one longer
      frame, so the file may hold fewer frames than `images` while playing just as long.
    - ".mp4": H.264 video (yuv420p) through imageio's ffmpeg plugin; odd sizes are padded to even.

    Args:
        images: (H, W, 3) uint8 RGB images, at least one; all of one size for ".gif" and ".mp4".
        path: the file to write; missing parent folders are created.
        fps: frames per second for ".gif" and ".mp4", > 0.

    Raises:
        ValueError: for another suffix, no images, images of the wrong shape or dtype, or fps <= 0.
    """
    path = Path(path)
    writers = {".png": _write_png, ".gif": _write_gif, ".mp4": _write_mp4}
    suffix = path.suffix.lower()
    if suffix not in writers:
        raise ValueError(f"cannot write {path.name!r}: the suffix must be one of {sorted(writers)}")
    _check_images(images)
    if fps <= 0:
        raise ValueError(f"fps must be > 0, got {fps}")
    if suffix != ".png" and len({im.shape for im in images}) > 1:
        raise ValueError(
            f"all images of a {suffix} must share one size, got {sorted({im.shape for im in images})}"
        )
    with atomic_path(path) as tmp:
        writers[suffix](images, str(tmp), fps)


def _write_png(images: list[np.ndarray], path: str, fps: float) -> None:
    """One image as is, several tiled `ceil(sqrt(n))` to a row; `fps` is unused."""
    del fps
    image = images[0] if len(images) == 1 else tile_images(images, columns=math.ceil(math.sqrt(len(images))))
    Image.fromarray(image).save(path, format="PNG")


def _write_gif(images: list[np.ndarray], path: str, fps: float) -> None:
    """A GIF looping forever at `fps` (delays are whole milliseconds; GIF keeps hundredths)."""
    frames = [Image.fromarray(im) for im in images]
    duration = round(1000 / fps)
    frames[0].save(path, format="GIF", save_all=True, append_images=frames[1:], duration=duration, loop=0)


def _write_mp4(images: list[np.ndarray], path: str, fps: float) -> None:
    """H.264 video at `fps`, frames edge-padded to even height and width as yuv420p requires."""
    h, w = images[0].shape[:2]
    even = ((0, h % 2), (0, w % 2), (0, 0))
    writer = imageio.get_writer(
        path, format="FFMPEG", fps=fps, codec="libx264", pixelformat="yuv420p", macro_block_size=1
    )
    try:
        for im in images:
            writer.append_data(np.pad(im, even, mode="edge"))
    finally:
        writer.close()


def _check_images(images: list[np.ndarray]) -> None:
    """Raise ValueError unless `images` is a non-empty list of (H, W, 3) uint8 arrays."""
    if len(images) == 0:
        raise ValueError("no images given")
    for i, im in enumerate(images):
        if im.ndim != 3 or im.shape[2] != 3 or im.dtype != np.uint8:
            raise ValueError(f"image {i} must be (H, W, 3) uint8, got {im.shape} {im.dtype}")
