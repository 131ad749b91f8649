"""An interactive 4D viewer: one self-contained HTML page of a scene's voxels over time.

The page is a plotly figure written with plotly.js inlined, so it opens offline: one mesh per class in the
semantic colormap (the legend toggles classes), orbit and zoom, and a time slider with play and pause over
the frames. Each mesh holds only the voxel faces that border free space, and neighbouring faces of a row
are merged into one rectangle, so a 16 x 128 x 128 x 8 scene stays a few megabytes (docs/viewer.md).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from dynamiccity.data.classes import COMMON_CLASSES, FREE, ClassSet

# each face direction: the axis it faces along, the sign, and the two in-plane axes (u runs are merged)
_DIRECTIONS = tuple((axis, sign) for axis in range(3) for sign in (-1, 1))


@dataclass
class Mesh:
    """Triangles of one class: vertices (V, 3) at voxel corners in voxel units (uint8 for grids up to 255
    voxels a side, else int16: the page scales the axes to metres), faces (F, 3) vertex indices (uint16
    while they fit, else int32): the smallest types plotly writes as typed arrays."""

    vertices: np.ndarray
    faces: np.ndarray


def exposed_faces(occupied: np.ndarray, axis: int, sign: int) -> np.ndarray:
    """(X, Y, Z) bool: the voxels whose face towards `sign` along `axis` borders free space (or the edge of
    the grid)."""
    neighbour = np.zeros_like(occupied)
    source = [slice(None)] * 3
    target = [slice(None)] * 3
    if sign > 0:
        source[axis], target[axis] = slice(1, None), slice(None, -1)
    else:
        source[axis], target[axis] = slice(None, -1), slice(1, None)
    neighbour[tuple(target)] = occupied[tuple(source)]
    return occupied & ~neighbour


def class_mesh(labels: np.ndarray, cls: int) -> Mesh:
    """The surface of class `cls` in `labels` (X, Y, Z): every face that borders free space, rows of
    neighbouring faces merged into rectangles, two triangles each."""
    mine, occupied = labels == cls, labels != FREE
    quads = []
    for axis, sign in _DIRECTIONS:
        faces = exposed_faces(occupied, axis, sign) & mine
        u, w = (a for a in range(3) if a != axis)
        # runs along u: move u last, pad, and find where a run starts (False -> True) and ends
        rows = np.moveaxis(faces, (axis, w, u), (0, 1, 2))
        padded = np.pad(rows, ((0, 0), (0, 0), (1, 1)))
        change = np.diff(padded.astype(np.int8), axis=2)
        s_a, s_w, s_u = np.nonzero(change == 1)
        _, _, e_u = np.nonzero(change == -1)  # same order as the starts: row-major, runs in sequence
        if len(s_a) == 0:
            continue
        plane = s_a + (1 if sign > 0 else 0)
        corners = np.zeros((len(s_a), 4, 3), np.int64)
        for k, (du, dw) in enumerate(((0, 0), (1, 0), (1, 1), (0, 1))):
            corners[:, k, axis] = plane
            corners[:, k, u] = np.where(du, e_u, s_u)
            corners[:, k, w] = s_w + dw
        quads.append(corners)
    if not quads:
        return Mesh(np.zeros((0, 3), np.uint8), np.zeros((0, 3), np.uint16))
    corners = np.concatenate(quads).reshape(-1, 3)
    base = 4 * np.arange(len(corners) // 4, dtype=np.int64)[:, None]
    faces = np.concatenate([base + np.array([0, 1, 2]), base + np.array([0, 2, 3])])
    vertex_type = np.uint8 if max(labels.shape) < 255 else np.int16
    face_type = np.uint16 if len(corners) <= np.iinfo(np.uint16).max else np.int32
    return Mesh(corners.astype(vertex_type), faces.astype(face_type))


def scene_figure(
    labels: np.ndarray,
    voxel_size: tuple[float, float, float],
    classes: ClassSet = COMMON_CLASSES,
    title: str = "",
    fps: float = 5.0,
):
    """A plotly figure of a scene `labels` (T, X, Y, Z): one mesh per class present, a frame per time step,
    a slider and play/pause buttons."""
    import plotly.graph_objects as go

    if labels.ndim != 4:
        raise ValueError(f"labels must be (T, X, Y, Z), got shape {labels.shape}.")
    top = int(labels.max(initial=0))
    if top >= classes.num_classes:
        raise ValueError(
            f"class id {top} is outside the {classes.name} class set (0..{classes.num_classes - 1})."
        )
    present = [c for c in range(1, classes.num_classes) if (labels == c).any()]
    colours = classes.colormap

    def traces(frame: np.ndarray) -> list:
        out = []
        for c in present:
            mesh = class_mesh(frame, c)
            out.append(
                go.Mesh3d(
                    x=mesh.vertices[:, 0],
                    y=mesh.vertices[:, 1],
                    z=mesh.vertices[:, 2],
                    i=mesh.faces[:, 0],
                    j=mesh.faces[:, 1],
                    k=mesh.faces[:, 2],
                    name=classes.names[c],
                    color="rgb({},{},{})".format(*colours[c]),
                    flatshading=True,
                    showlegend=True,
                    hoverinfo="name",
                    lighting={"ambient": 0.55, "diffuse": 0.7, "specular": 0.05, "fresnel": 0.0},
                    lightposition={"x": 1000, "y": 600, "z": 3000},
                )
            )
        return out

    names = [f"{t}" for t in range(len(labels))]
    frames = [go.Frame(data=traces(labels[t]), name=name) for t, name in enumerate(names)]
    step = {
        "mode": "immediate",
        "frame": {"duration": 1000 / fps, "redraw": True},
        "transition": {"duration": 0},
    }
    still = {**step, "frame": {"duration": 0, "redraw": True}}
    cells = np.asarray(labels.shape[1:])
    extent = cells * np.asarray(voxel_size)
    ratio = extent / extent.max()

    def axis(name: str, i: int) -> dict:
        ticks = np.linspace(0, cells[i], 5 if i < 2 else 2)
        return {
            "title": name, "range": [0, int(cells[i])], "tickvals": ticks,
            "ticktext": [f"{v * voxel_size[i]:.0f}" for v in ticks],
        }  # fmt: skip

    figure = go.Figure(
        data=frames[0].data,
        frames=frames,
        layout=go.Layout(
            title={"text": title, "x": 0.02},
            scene={
                "domain": {"y": [0.1, 1.0]},  # room for the slider below
                "aspectmode": "manual",
                "aspectratio": {"x": ratio[0], "y": ratio[1], "z": ratio[2]},
                "xaxis": axis("x (m, forward)", 0),
                "yaxis": axis("y (m, left)", 1),
                "zaxis": axis("z (m)", 2),
                "camera": {"eye": {"x": -1.1, "y": -1.1, "z": 0.9}},
            },
            uirevision="scene",
            legend={"title": {"text": "classes (click to toggle)"}, "itemsizing": "constant"},
            margin={"l": 0, "r": 0, "t": 40, "b": 0},
            updatemenus=[
                {
                    "type": "buttons",
                    "direction": "left",
                    "x": 0.02,
                    "y": 0.02,
                    "xanchor": "left",
                    "yanchor": "bottom",
                    "pad": {"r": 10, "t": 10},
                    "buttons": [
                        {"label": "play", "method": "animate", "args": [None, {**step, "fromcurrent": True}]},
                        {"label": "pause", "method": "animate", "args": [[None], still]},
                    ],
                }
            ],
            sliders=[
                {
                    "active": 0,
                    "x": 0.15,
                    "len": 0.8,
                    "y": 0.02,
                    "yanchor": "bottom",
                    "currentvalue": {"prefix": "frame "},
                    "steps": [
                        {"label": name, "method": "animate", "args": [[name], still]} for name in names
                    ],
                }
            ],
        ),
    )
    return figure


def write_viewer(
    labels: np.ndarray,
    out: str | Path,
    voxel_size: tuple[float, float, float],
    classes: ClassSet = COMMON_CLASSES,
    title: str = "",
    fps: float = 5.0,
) -> int:
    """Write the viewer page of `labels` (T, X, Y, Z) to `out` (.html, written atomically, plotly.js
    inlined); returns its size in bytes."""
    from dynamiccity.atomic import write_text

    out = Path(out)
    if out.suffix.lower() not in (".html", ".htm"):
        raise ValueError(f"{out}: the viewer is an HTML page; name it .html.")
    figure = scene_figure(labels, voxel_size, classes, title, fps)
    html = figure.to_html(include_plotlyjs=True, full_html=True, auto_play=False, div_id="scene")
    write_text(out, html)
    return out.stat().st_size
