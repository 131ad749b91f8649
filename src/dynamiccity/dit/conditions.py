"""What the DiT can be conditioned on (paper Sec. 4.3, Fig. 5, A.4-A.5): one typed object, embedded here.

Two insertion branches, as the paper's Fig. 5:
- adaLN-Zero: every condition gives one vector per sample (global conditions directly; image-like ones as the
  mean of their tokens), summed with the timestep embedding that modulates every block;
- cross-attention: the image-like conditions become tokens that every block attends to.

| condition    | given as                                              | branch                      |
|--------------|-------------------------------------------------------|-----------------------------|
| `command`    | (B,) int, a `dynamiccity.data.Command`                | embedding -> adaLN          |
| `trajectory` | (B, T, 2) ego x, y per frame in the first frame's ego frame (metres); a (B, T, 3) trajectory's yaw is not used | MLP -> adaLN |
| `layout`     | (B, T, X/d, Y/d) BEV vehicle map per frame            | tokens -> cross-attn, adaLN |
| `previous`   | (B, C, H, W) rolled-out HexPlane of the window T frames earlier | tokens -> cross-attn, adaLN |
| `frame`      | (B, C, H, W) rolled-out HexPlane of one observed frame | tokens -> cross-attn, adaLN |

Image-like conditions are placed where they lie in the rolled-out map, so they carry the position embedding
of the latent tokens they describe: the layout goes through the rollout as the xy plane of a HexPlane whose
channels are its frames, the HexPlanes are rolled-out maps already.

A condition left out (None) is the null condition: a learned vector (global) or learned token (image-like)
in its place. Training drops each condition independently to null (classifier-free guidance); `null` marks
per sample which conditions are dropped, so a batch can mix conditioned and null samples.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import torch
import torch.nn.functional as F
from einops import rearrange
from torch import nn

from dynamiccity.data.derive import Command
from dynamiccity.dit.rollout import Rollout
from dynamiccity.hexplane import HexPlane

CONDITIONS = ("command", "trajectory", "layout", "previous", "frame")
GLOBAL = ("command", "trajectory")
IMAGE_LIKE = ("layout", "previous", "frame")
TRAJECTORY_SCALE = 10.0
"""Metres per unit of the trajectory MLP's input: a window's path spans a few to tens of metres."""


@dataclass
class Conditions:
    """Conditions of a batch; None is the null condition. `null` maps a condition to a (B,) bool mask of the
    samples for which it is null although given (classifier-free guidance's dropped or unconditional half)."""

    command: torch.Tensor | None = None
    trajectory: torch.Tensor | None = None
    layout: torch.Tensor | None = None
    previous: torch.Tensor | None = None
    frame: torch.Tensor | None = None
    null: dict[str, torch.Tensor] = field(default_factory=dict)

    def given(self) -> tuple[str, ...]:
        """Names of the conditions that are not None."""
        return tuple(name for name in CONDITIONS if getattr(self, name) is not None)

    def batch_size(self) -> int | None:
        sizes = {getattr(self, name).shape[0] for name in self.given()}
        if len(sizes) > 1:
            raise ValueError(f"conditions disagree on the batch size: {sorted(sizes)}.")
        return sizes.pop() if sizes else None

    def to(self, device: torch.device | str) -> Conditions:
        moved = {name: getattr(self, name).to(device) for name in self.given()}
        return replace(self, **moved, null={k: v.to(device) for k, v in self.null.items()})

    def rows(self, start: int, stop: int) -> Conditions:
        """Samples start..stop of the batch."""
        part = {n: getattr(self, n)[start:stop] for n in self.given()}
        return replace(self, **part, null={k: v[start:stop] for k, v in self.null.items()})

    def repeat(self, times: int) -> Conditions:
        """Each sample `times` times in a row (a condition for `times` scenes each)."""
        rep = {n: getattr(self, n).repeat_interleave(times, dim=0) for n in self.given()}
        return replace(self, **rep, null={k: v.repeat_interleave(times) for k, v in self.null.items()})

    def dropped(self, p: float, every: float = 0.0, generator: torch.Generator | None = None) -> Conditions:
        """Each given condition null for each sample with probability `p`, independently, and every
        condition of a sample null at once with probability `every` (training)."""
        b, null = self.batch_size(), dict(self.null)

        def draw() -> torch.Tensor:  # on the CPU, where a training generator lives
            return torch.rand(b, generator=generator)

        all_null = draw() < every
        for name in self.given():
            device = getattr(self, name).device
            drop = (draw() < p) | all_null
            null[name] = null.get(name, torch.zeros(b, dtype=torch.bool, device=device)) | drop.to(device)
        return replace(self, null=null)

    def with_null_half(self) -> Conditions:
        """The batch twice: as given, then every condition null (one forward for guided sampling)."""
        b, doubled, null = self.batch_size(), {}, {}
        for name in self.given():
            value = getattr(self, name)
            doubled[name] = torch.cat([value, value])
            first = self.null.get(name, torch.zeros(b, dtype=torch.bool, device=value.device))
            null[name] = torch.cat([first, torch.ones_like(first)])
        return replace(self, **doubled, null=null)


def _mlp(inputs: int, hidden: int) -> nn.Sequential:
    return nn.Sequential(nn.Linear(inputs, hidden), nn.SiLU(), nn.Linear(hidden, hidden))


class ConditionEmbedder(nn.Module):
    """Conditions -> (adaLN vector (B, hidden), cross-attention tokens (B, N, hidden) or None).

    Args:
        names: the conditions this model takes (others are refused).
        rollout: the DiT's rollout, which places image-like conditions.
        pos: (N_real, hidden) position embedding of the map's real tokens; real: their indices in the
            patch grid.
        frames, layout_grid: T of a window and (X/d, Y/d) of its layout.
        channels: latent channels C of the HexPlane conditions.
    """

    def __init__(
        self,
        names: tuple[str, ...],
        rollout: Rollout,
        pos: torch.Tensor,
        real: torch.Tensor,
        hidden: int,
        frames: int,
        layout_grid: tuple[int, int],
        channels: int,
    ) -> None:
        super().__init__()
        unknown = [n for n in names if n not in CONDITIONS]
        if unknown:
            raise ValueError(f"unknown condition {unknown[0]!r}; choose from {', '.join(CONDITIONS)}.")
        self.names, self.rollout, self.frames, self.layout_grid = tuple(names), rollout, frames, layout_grid
        p = rollout.patch
        self.register_buffer("pos", pos.clone(), persistent=False)
        self.register_buffer("real", real.clone(), persistent=False)
        self.nulls = nn.ParameterDict({n: nn.Parameter(torch.zeros(hidden)) for n in names})
        self.embed = nn.ModuleDict()
        self.pool = nn.ModuleDict()
        if "command" in names:
            self.embed["command"] = nn.Embedding(len(Command), hidden)
        if "trajectory" in names:
            self.embed["trajectory"] = _mlp(2 * frames, hidden)
        if "layout" in names:
            self.register_buffer("layout_tokens", self._layout_tokens(), persistent=False)
            self.embed["layout"] = nn.Linear(frames * p * p, hidden)
        for name in ("previous", "frame"):
            if name in names:
                self.embed[name] = nn.Linear(channels * p * p, hidden)
        for name in self.image_like:
            self.pool[name] = nn.Linear(hidden, hidden)
        self.context_norm = nn.LayerNorm(hidden) if self.image_like else None

    @property
    def image_like(self) -> tuple[str, ...]:
        return tuple(n for n in self.names if n in IMAGE_LIKE)

    def _layout_tokens(self) -> torch.Tensor:
        """Indices, among the real tokens, of those the xy plane covers."""
        ones = {n: torch.zeros(1, 1, *shape) for n, shape in self.rollout.shapes.items()}
        ones["xy"] = torch.ones(1, 1, *self.rollout.shapes["xy"])
        covered = self._patches(self.rollout.roll(HexPlane.from_planes(ones))).abs().sum(-1)[0]
        return covered.nonzero().squeeze(1)

    def _patches(self, grid: torch.Tensor) -> torch.Tensor:
        """map (B, C, H, W) -> its real patches (B, N_real, C*p*p), as the DiT cuts the latent."""
        p = self.rollout.patch
        return rearrange(grid, "b c (i p) (j q) -> b (i j) (p q c)", p=p, q=p)[:, self.real]

    def _layout_map(self, layout: torch.Tensor) -> torch.Tensor:
        """(B, T, X/d, Y/d) -> the rolled-out map of a HexPlane whose xy plane is the layout resampled to
        (X', Y') (max-pooled when finer), channels = frames."""
        b, t = layout.shape[:2]
        if t != self.frames or tuple(layout.shape[2:]) != self.layout_grid:
            raise ValueError(
                f"a layout condition must be (B, {self.frames}, {self.layout_grid[0]}, {self.layout_grid[1]}), "
                f"got {tuple(layout.shape)}."
            )
        xy_shape = self.rollout.shapes["xy"]
        layout = layout.float()
        if layout.shape[-2] >= xy_shape[0] and layout.shape[-1] >= xy_shape[1]:
            xy = F.adaptive_max_pool2d(layout, xy_shape)
        else:
            xy = F.interpolate(layout, size=xy_shape, mode="nearest")
        planes = {n: layout.new_zeros(b, t, *shape) for n, shape in self.rollout.shapes.items()}
        planes["xy"] = xy
        return self.rollout.roll(HexPlane.from_planes(planes))

    def _check(self, cond: Conditions) -> None:
        extra = [n for n in cond.given() if n not in self.names]
        if extra:
            taken = ", ".join(self.names) if self.names else "none"
            raise ValueError(f"this DiT was trained without the {extra[0]} condition (it takes: {taken}).")
        if cond.command is not None and not (
            (cond.command >= 0).all() and (cond.command < len(Command)).all()
        ):
            raise ValueError(
                f"a command must be one of {', '.join(c.name for c in Command)} (0-{len(Command) - 1}); "
                f"got {cond.command.tolist()} (-1: the data has no ego poses)."
            )
        if cond.trajectory is not None and (
            cond.trajectory.ndim != 3
            or cond.trajectory.shape[1] != self.frames
            or cond.trajectory.shape[2] not in (2, 3)
        ):
            raise ValueError(
                f"a trajectory condition must be (B, {self.frames}, 2) or (B, {self.frames}, 3), "
                f"got {tuple(cond.trajectory.shape)}."
            )
        if cond.trajectory is not None and not torch.isfinite(cond.trajectory[..., :2]).all():
            raise ValueError("a trajectory condition holds NaN or infinite positions (no ego poses?).")
        for name in ("previous", "frame"):
            value = getattr(cond, name)
            want = (self.rollout.height, self.rollout.width)
            if value is not None and (value.ndim != 4 or tuple(value.shape[-2:]) != want):
                raise ValueError(
                    f"a {name} condition must be a rolled-out HexPlane (B, C, {want[0]}, {want[1]}), "
                    f"got {tuple(value.shape)}."
                )

    def _tokens(self, name: str, value: torch.Tensor) -> torch.Tensor:
        if name == "layout":
            patches = self._patches(self._layout_map(value))[:, self.layout_tokens]
            return self.embed[name](patches) + self.pos[self.layout_tokens]
        return self.embed[name](self._patches(value)) + self.pos

    def _null_tokens(self, name: str, b: int) -> torch.Tensor:
        pos = self.pos[self.layout_tokens] if name == "layout" else self.pos
        return (self.nulls[name] + pos).expand(b, -1, -1)

    def _vector(self, name: str, value: torch.Tensor) -> torch.Tensor:
        if name == "command":
            return self.embed[name](value.long())
        return self.embed[name](value[..., :2].flatten(1).float() / TRAJECTORY_SCALE)

    def forward(self, cond: Conditions | None, batch: int) -> tuple[torch.Tensor, torch.Tensor | None]:
        """(adaLN vector (B, hidden), tokens (B, N, hidden) or None) for a batch of `batch` samples."""
        cond = Conditions() if cond is None else cond
        self._check(cond)
        if cond.batch_size() not in (None, batch):
            raise ValueError(f"conditions for {cond.batch_size()} samples given for a batch of {batch}.")
        vector, tokens = self.pos.new_zeros(batch, self.pos.shape[1]), []
        for name in self.names:
            value = getattr(cond, name)
            null = cond.null.get(name)
            if name in GLOBAL:
                out = self.nulls[name].expand(batch, -1) if value is None else self._vector(name, value)
                if value is not None and null is not None:
                    out = torch.where(null[:, None], self.nulls[name].expand_as(out), out)
                vector = vector + out
                continue
            out = self._null_tokens(name, batch) if value is None else self._tokens(name, value)
            if value is not None and null is not None:
                out = torch.where(null[:, None, None], self._null_tokens(name, batch), out)
            vector = vector + self.pool[name](out.mean(1))
            tokens.append(out)
        context = self.context_norm(torch.cat(tokens, dim=1)) if tokens else None
        return vector, context
