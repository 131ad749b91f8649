"""Planar paths made of straight segments and circular arcs: road centrelines, lanes and walkways.

A path is parameterised by arclength s (metres). Poses are (x, y, yaw) in the world plane, yaw in radians
counter-clockwise from +x; "left" of a heading h = (cos, sin) is the normal (-sin, cos).
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np


def unit(yaw: float | np.ndarray) -> np.ndarray:
    """Unit heading vectors (..., 2) of angles `yaw` (...,)."""
    return np.stack([np.cos(yaw), np.sin(yaw)], axis=-1)


def left_normal(yaw: float | np.ndarray) -> np.ndarray:
    """Unit vectors (..., 2) pointing left of headings `yaw` (...,)."""
    return np.stack([-np.sin(yaw), np.cos(yaw)], axis=-1)


def wrap(angle: float | np.ndarray) -> float | np.ndarray:
    """Angles wrapped to [-pi, pi)."""
    return (np.asarray(angle) + np.pi) % (2.0 * np.pi) - np.pi


@dataclass(frozen=True)
class Segment:
    """A straight piece from `start` along heading `yaw` for `length` metres."""

    start: tuple[float, float]
    yaw: float
    length: float

    def poses(self, t: np.ndarray) -> np.ndarray:
        """(N, 3) x, y, yaw at distances t (N,) from the start (not clamped)."""
        xy = np.asarray(self.start) + t[:, None] * unit(self.yaw)
        return np.concatenate([xy, np.full((len(t), 1), self.yaw)], axis=1)

    def closest(self, points: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Distance t (N,) along the piece of the closest point to each of `points` (N, 2), and that point."""
        t = np.clip((points - np.asarray(self.start)) @ unit(self.yaw), 0.0, self.length)
        return t, self.poses(t)

    def offset(self, lateral: float) -> Segment:
        """The parallel segment `lateral` metres to the left."""
        return replace(self, start=tuple(np.asarray(self.start) + lateral * left_normal(self.yaw)))


@dataclass(frozen=True)
class Arc:
    """A circular piece around `centre` of `radius`, from polar angle `phi0` sweeping `sweep` radians.

    A positive sweep runs counter-clockwise (a left turn), a negative one clockwise (a right turn).
    """

    centre: tuple[float, float]
    radius: float
    phi0: float
    sweep: float

    @property
    def length(self) -> float:
        return self.radius * abs(self.sweep)

    def poses(self, t: np.ndarray) -> np.ndarray:
        """(N, 3) x, y, yaw at distances t (N,) from the start, t in [0, length]."""
        turn = np.sign(self.sweep)
        phi = self.phi0 + turn * t / self.radius
        xy = np.asarray(self.centre) + self.radius * unit(phi)
        return np.concatenate([xy, (phi + turn * np.pi / 2)[:, None]], axis=1)

    def closest(self, points: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Distance t (N,) along the arc of the closest point to each of `points` (N, 2), and that point."""
        rel = points - np.asarray(self.centre)
        phi = np.arctan2(rel[:, 1], rel[:, 0])
        along = (np.sign(self.sweep) * (phi - self.phi0)) % (2 * np.pi)  # (N,) radians past the start
        span = abs(self.sweep)
        along = np.where(along > span + 0.5 * (2 * np.pi - span), along - 2 * np.pi, along)
        t = np.clip(along, 0.0, span) * self.radius
        return t, self.poses(t)

    def offset(self, lateral: float) -> Arc:
        """The concentric arc `lateral` metres to the left (smaller radius on a left turn)."""
        return replace(self, radius=self.radius - np.sign(self.sweep) * lateral)


Piece = Segment | Arc


@dataclass(frozen=True)
class Path:
    """Pieces joined end to end; the first starts at arclength `s0` (often negative)."""

    pieces: tuple[Piece, ...]
    s0: float = 0.0

    @property
    def s1(self) -> float:
        """Arclength at the end of the last piece."""
        return self.s0 + sum(p.length for p in self.pieces)

    def piece_starts(self) -> np.ndarray:
        """(P,) arclength at the start of each piece."""
        return self.s0 + np.concatenate([[0.0], np.cumsum([p.length for p in self.pieces])[:-1]])

    def arc_range(self) -> tuple[float, float] | None:
        """(s_start, s_end) of the path's (first) arc, or None for a straight path."""
        for start, piece in zip(self.piece_starts(), self.pieces, strict=True):
            if isinstance(piece, Arc):
                return float(start), float(start + piece.length)
        return None

    def poses(self, s: np.ndarray) -> np.ndarray:
        """(N, 3) float64 x, y, yaw at arclengths s (N,); beyond its ends the path extends straight."""
        s = np.asarray(s, dtype=np.float64)
        out = np.empty((len(s), 3))
        starts = self.piece_starts()
        index = np.clip(np.searchsorted(starts, s, side="right") - 1, 0, len(self.pieces) - 1)
        for k, piece in enumerate(self.pieces):
            mask = index == k
            if mask.any():
                out[mask] = piece.poses(s[mask] - starts[k])
        return out

    def project(self, points: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Closest-point coordinates of `points` (N, 2): arclength s, signed lateral d (left > 0), distance.

        Returns three (N,) float64 arrays; |d| == distance.
        """
        best = np.full(len(points), np.inf)
        s_best = np.zeros(len(points))
        d_best = np.zeros(len(points))
        for start, piece in zip(self.piece_starts(), self.pieces, strict=True):
            t, pose = piece.closest(points)
            rel = points - pose[:, :2]
            dist = np.hypot(rel[:, 0], rel[:, 1])
            side = np.where(np.einsum("nc,nc->n", rel, left_normal(pose[:, 2])) >= 0.0, 1.0, -1.0)
            better = dist < best
            best = np.where(better, dist, best)
            s_best = np.where(better, start + t, s_best)
            d_best = np.where(better, side * dist, d_best)
        return s_best, d_best, best

    def offset(self, lateral: float) -> Path:
        """The parallel path `lateral` metres to the left (same s at the start)."""
        return Path(tuple(p.offset(lateral) for p in self.pieces), self.s0)


def line_path(point: tuple[float, float], yaw: float, half_length: float) -> Path:
    """The straight path through the line's point closest to the origin (s = 0 there), of +-half_length."""
    foot = np.asarray(point) - (np.asarray(point) @ unit(yaw)) * unit(yaw)
    start = foot - half_length * unit(yaw)
    return Path((Segment(tuple(start), yaw, 2 * half_length),), -half_length)


def ray_path(yaw: float, length: float) -> Path:
    """The straight path from the origin along `yaw` for `length` metres (s = 0 at the origin)."""
    return Path((Segment((0.0, 0.0), yaw, length),), 0.0)


def fillet_path(
    point_in: tuple[float, float],
    yaw_in: float,
    point_out: tuple[float, float],
    yaw_out: float,
    radius: float,
    half_length: float,
) -> Path:
    """Drive along the line through `point_in` (heading yaw_in), turn on an arc of `radius`, leave along
    the line through `point_out` (heading yaw_out).

    s = 0 lies where the incoming line passes closest to the origin, so paths that share an incoming line
    share arclengths before their turns. Both straight parts reach about `half_length` from the origin.
    A zero turn gives `line_path`.
    """
    turn = float(wrap(yaw_out - yaw_in))
    if abs(turn) < 1e-9:
        return line_path(point_in, yaw_in, half_length)
    h_in, h_out = unit(yaw_in), unit(yaw_out)
    p_in, p_out = np.asarray(point_in, dtype=np.float64), np.asarray(point_out, dtype=np.float64)
    # Intersection of the lines: p_in + a * h_in == p_out + b * h_out.
    a, _ = np.linalg.solve(np.stack([h_in, -h_out], axis=1), p_out - p_in)
    corner = p_in + a * h_in
    tangent = radius * np.tan(abs(turn) / 2)
    t_in, t_out = corner - tangent * h_in, corner + tangent * h_out
    centre = t_in + np.sign(turn) * radius * left_normal(yaw_in)
    rel = t_in - centre
    s_turn = float(t_in @ h_in)  # arclength of the arc's start (s = x . h_in on the incoming line)
    lead = max(half_length + s_turn, 1.0)
    pieces = (
        Segment(tuple(t_in - lead * h_in), yaw_in, lead),
        Arc(tuple(centre), radius, float(np.arctan2(rel[1], rel[0])), turn),
        Segment(tuple(t_out), yaw_out, max(half_length - float(t_out @ h_out), 1.0)),
    )
    return Path(pieces, s_turn - lead)
