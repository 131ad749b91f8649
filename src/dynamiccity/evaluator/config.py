"""The evaluator's configuration: what it sees (window, render protocol) and how wide its networks are."""

from __future__ import annotations

from dataclasses import dataclass

from dynamiccity.config import StrictConfig

HEADS: dict[str, tuple[str, ...]] = {
    "layout": ("straight", "curve", "t_junction", "crossroads"),
    "density": ("low", "medium", "high"),
    "command": ("static", "forward", "left", "right"),
}
"""The classifications an evaluator can learn, with their classes: a scene's road layout and traffic density
(SynthTown's per-scene labels) and the window's ego command (from its poses). IS uses the first one a
trained evaluator has."""

CHANGE3D = ("pooled", "spatial")
"""How the 3D window feature measures change between frames: of the pooled features, or at each place."""


@dataclass(frozen=True)
class EvaluatorConfig(StrictConfig):
    """Feature extractors for generation metrics (paper A.2), trained on real scenes.

    3D: per frame, a class embedding and a 3D conv encoder halving X and Y at each of its len(widths3d) - 1
    stages (Z while it is at least 2) down to a widths3d[-1]-channel bottleneck, average-pooled to one
    feature per frame; a mirrored decoder reconstructs the frame (CE + Lovasz), so the features must keep
    what the scene holds. Each decoder stage upsamples by a transposed conv of its stride, which sees one
    bottleneck cell; `decoder_convs` 3x3x3 convs after it give it the neighbours. A window's feature (4D) is
    [mean over frames, mean over frames of the frame-to-frame change]: with `change3d` "pooled" (v1) the
    change of the pooled features, with "spatial" the change of the bottleneck at each place, pooled after,
    so frames out of order show as large changes even where the pooled features barely move. 2D: the render
    protocol's images (BEV of `bev_frames` stacked, and the 3D view of the middle frame at `view_size`)
    through a 2D conv network, average-pooled; with `bev_decoder` the BEV branch also decodes, from its map
    before pooling, each shown frame's top class per column, so its features must read colours as classes.
    Classifier heads on both give the class probabilities IS needs.
    """

    label = "evaluator config"

    num_classes: int = 12
    frames: int = 16
    grid: tuple[int, int, int] = (64, 64, 8)
    heads: tuple[str, ...] = ("layout", "density", "command")
    embed_dim: int = 8
    widths3d: tuple[int, ...] = (16, 32, 64, 128)
    widths2d: tuple[int, ...] = (16, 32, 64, 128)
    view_size: tuple[int, int] = (128, 96)
    lovasz_weight: float = 1.0
    change3d: str = "pooled"
    bev_decoder: bool = False
    decoder_convs: int = 0

    def __post_init__(self) -> None:
        unknown = [h for h in self.heads if h not in HEADS]
        if unknown:
            raise ValueError(f"unknown evaluator head {unknown[0]!r}; choose from {', '.join(HEADS)}.")
        if self.change3d not in CHANGE3D:
            raise ValueError(f"unknown change3d {self.change3d!r}; choose from {', '.join(CHANGE3D)}.")
        if self.frames < 2:
            raise ValueError(f"frames must be >= 2 (the window feature measures change), got {self.frames}.")

    @property
    def bev_frames(self) -> tuple[int, int, int]:
        """The frames the BEV images show: first, middle, last."""
        return (0, self.frames // 2, self.frames - 1)

    @property
    def feature_dims(self) -> dict[str, int]:
        """Width of each feature kind: "3d" (window), "3d_frame", "2d"."""
        return {"3d": 2 * self.widths3d[-1], "3d_frame": self.widths3d[-1], "2d": 2 * self.widths2d[-1]}
