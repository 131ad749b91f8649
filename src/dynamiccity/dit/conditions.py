"""What the DiT can be conditioned on (paper Sec. 4.3, Fig. 5, A.4-A.5): one typed object, embedded here.

Two insertion branches, as the paper's Fig. 5:
- adaLN-Zero: every condition gives one vector per sample (global conditions directly; image-like ones as the
  mean of their tokens), summed with the timestep embedding that modulates every block;
- cross-attention: the image-like conditions become tokens that every block attends to.

A third branch, placed (`placed`), is ours: a condition placed on the map is also added, token by token,
to the latent tokens it lies on (through a zero-initialised projection, so a fresh network starts as the
paper's). The command and the trajectory are then painted on the time planes (tx, ty, tz), one value per
latent time row, and become tokens like the image-like conditions; the layout lies on the xy plane, the
single frame on the whole map, and so does the previous window when it is seen from where the window starts
(latents in world coordinates; in the ego's frame it lies nowhere fixed, the ego having moved since). Measured on SynthTown (docs/conditions.md), the paper's two branches leave the
trajectory unheard: a global vector cannot say which tokens move.

| condition    | given as                                              | branch                      |
|--------------|-------------------------------------------------------|-----------------------------|
| `command`    | (B,) int, a `dynamiccity.data.Command`                | embedding -> adaLN (placed: time-plane tokens) |
| `trajectory` | (B, T, 2) ego x, y per frame in the first frame's ego frame (metres); a (B, T, 3) trajectory's yaw is not used | MLP -> adaLN (placed: time-plane tokens) |
| `layout`     | (B, T, X/d, Y/d) BEV vehicle map per frame            | tokens -> cross-attn, adaLN |
| `previous`   | (B, C, H, W) rolled-out HexPlane of the window T frames earlier | tokens -> cross-attn, adaLN (placed, world coordinates: whole map) |
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
from dynamiccity.dit.pooling import TokenPool
from dynamiccity.dit.rollout import Rollout
from dynamiccity.hexplane import TIME_PLANES, HexPlane

CONDITIONS = ("command", "trajectory", "layout", "previous", "frame")
GLOBAL = ("command", "trajectory")
IMAGE_LIKE = ("layout", "previous", "frame")
TRAJECTORY_SCALE = 10.0
"""Metres per unit of the trajectory MLP's input: a window's path spans a few to tens of metres."""


def check_conditions(names: tuple[str, ...], placed: tuple[str, ...] = ()) -> None:
    """Refuse a condition that is not one of `CONDITIONS`, and a placed one that the network does not take.
    Every condition lies on known tokens and can be placed; the previous window only when it is seen from the
    window's first frame (world coordinates), which a DiT run checks against its latents."""
    unknown = [n for n in (*names, *placed) if n not in CONDITIONS]
    if unknown:
        raise ValueError(f"unknown condition {unknown[0]!r}; choose from {', '.join(CONDITIONS)}.")
    wrong = [n for n in placed if n not in names]
    if wrong:
        raise ValueError(
            f"cannot place the {wrong[0]} condition: a placed condition must be one the network takes "
            f"({', '.join(names) or 'none'})."
        )


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


def _region(name: str) -> str:
    """Where a condition's tokens lie: the time planes' tokens (command, trajectory), the xy plane's (layout)
    or the whole map (the HexPlane conditions)."""
    if name in GLOBAL:
        return "time"
    return "layout" if name == "layout" else "map"


def _mlp(inputs: int, hidden: int) -> nn.Sequential:
    return nn.Sequential(nn.Linear(inputs, hidden), nn.SiLU(), nn.Linear(hidden, hidden))


class ConditionEmbedder(nn.Module):
    """Conditions -> `Embedded`: the adaLN vector, the cross-attention tokens, the placed addition.

    Args:
        names: the conditions this model takes (others are refused).
        rollout: the DiT's rollout, which places image-like conditions.
        pos: (N_real, hidden) position embedding of the map's real tokens; real: their indices in the
            patch grid.
        frames, layout_grid: T of a window and (X/d, Y/d) of its layout.
        channels: latent channels C of the HexPlane conditions.
        placed: the conditions also added to the tokens they lie on (a subset of `names`).
        context_pool: k, the side of the blocks of the patch grid over which the cross-attention's tokens
            are averaged (`dit.pooling`; 1: every token, as the paper).
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
        placed: tuple[str, ...] = (),
        context_pool: int = 1,
    ) -> None:
        super().__init__()
        check_conditions(names, placed)
        self.names, self.rollout, self.frames, self.layout_grid = tuple(names), rollout, frames, layout_grid
        self.placed = tuple(placed)
        p, rows = rollout.patch, rollout.sizes[0]
        if "trajectory" in placed and frames % rows:
            raise ValueError(
                f"a placed trajectory needs frames ({frames}) divisible by the latent's T' ({rows})."
            )
        self.register_buffer("pos", pos.clone(), persistent=False)
        self.register_buffer("real", real.clone(), persistent=False)
        self.register_buffer("layout_tokens", self._plane_tokens(("xy",)), persistent=False)
        self.register_buffer("time_tokens", self._plane_tokens(TIME_PLANES), persistent=False)
        self.nulls = nn.ParameterDict({n: nn.Parameter(torch.zeros(hidden)) for n in names})
        self.embed = nn.ModuleDict()
        self.pool = nn.ModuleDict()
        self.inplace = nn.ModuleDict()
        if "command" in names:
            self.embed["command"] = nn.Embedding(len(Command), hidden)
        if "trajectory" in names:
            painted = 2 * frames // rows * p * p
            self.embed["trajectory"] = (
                nn.Linear(painted, hidden) if "trajectory" in placed else _mlp(2 * frames, hidden)
            )
        if "layout" in names:
            self.embed["layout"] = nn.Linear(frames * p * p, hidden)
        for name in ("previous", "frame"):
            if name in names:
                self.embed[name] = nn.Linear(channels * p * p, hidden)
        for name in self.token_names:
            self.pool[name] = nn.Linear(hidden, hidden)
        for name in self.placed:
            self.inplace[name] = nn.Linear(hidden, hidden)
            nn.init.zeros_(self.inplace[name].weight)
            nn.init.zeros_(self.inplace[name].bias)
        self.context_norm = nn.LayerNorm(hidden) if self.token_names else None
        cols = rollout.token_grid[1]
        self.pools = nn.ModuleDict(
            {
                "map": TokenPool(self.real, cols, context_pool),
                "layout": TokenPool(self.real[self.layout_tokens], cols, context_pool),
                "time": TokenPool(self.real[self.time_tokens], cols, context_pool),
            }
        )

    @property
    def token_names(self) -> tuple[str, ...]:
        """The conditions that become tokens: the image-like ones and the placed ones."""
        return tuple(n for n in self.names if n in IMAGE_LIKE or n in self.placed)

    def _plane_tokens(self, planes: tuple[str, ...]) -> torch.Tensor:
        """Indices, among the real tokens, of those that hold features of `planes`."""
        ones = {n: torch.full((1, 1, *shape), float(n in planes)) for n, shape in self.rollout.shapes.items()}
        covered = self._patches(self.rollout.roll(HexPlane.from_planes(ones))).abs().sum(-1)[0]
        return covered.nonzero().squeeze(1)

    def _where(self, name: str) -> torch.Tensor | None:
        """The real tokens a condition lies on (None: all of them)."""
        return {"time": self.time_tokens, "layout": self.layout_tokens, "map": None}[_region(name)]

    def _pool(self, name: str) -> TokenPool:
        """The pooling of the tokens a condition lies on (`_region`) for the cross-attention."""
        return self.pools[_region(name)]

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

    def _trajectory_map(self, trajectory: torch.Tensor) -> torch.Tensor:
        """(B, T, 2+) -> the rolled-out map of a HexPlane whose time planes hold, on latent time row r, the
        ego x, y of the frames that row covers (in units of `TRAJECTORY_SCALE`), the same across each row."""
        b, rows = trajectory.shape[0], self.rollout.sizes[0]
        per_row = rearrange(trajectory[..., :2].float() / TRAJECTORY_SCALE, "b (r f) k -> b (f k) r", r=rows)
        planes = {}
        for name, (h, w) in self.rollout.shapes.items():
            if name in TIME_PLANES:
                planes[name] = per_row[..., None].expand(-1, -1, h, w)
            else:
                planes[name] = per_row.new_zeros(b, per_row.shape[1], h, w)
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
        where = self._where(name)
        pos = self.pos if where is None else self.pos[where]
        if name == "command":
            return self.embed[name](value.long())[:, None] + pos
        if name == "trajectory":
            return self.embed[name](self._patches(self._trajectory_map(value))[:, where]) + pos
        if name == "layout":
            return self.embed[name](self._patches(self._layout_map(value))[:, where]) + pos
        return self.embed[name](self._patches(value)) + pos

    def _null_tokens(self, name: str, b: int) -> torch.Tensor:
        where = self._where(name)
        pos = self.pos if where is None else self.pos[where]
        return (self.nulls[name] + pos).expand(b, -1, -1)

    def _vector(self, name: str, value: torch.Tensor) -> torch.Tensor:
        if name == "command":
            return self.embed[name](value.long())
        return self.embed[name](value[..., :2].flatten(1).float() / TRAJECTORY_SCALE)

    def forward(self, cond: Conditions | None, batch: int) -> Embedded:
        """The conditions of a batch of `batch` samples, embedded for the three branches."""
        cond = Conditions() if cond is None else cond
        self._check(cond)
        if cond.batch_size() not in (None, batch):
            raise ValueError(f"conditions for {cond.batch_size()} samples given for a batch of {batch}.")
        vector, tokens, added = self.pos.new_zeros(batch, self.pos.shape[1]), [], None
        for name in self.names:
            value = getattr(cond, name)
            null = cond.null.get(name)
            if name not in self.token_names:
                out = self.nulls[name].expand(batch, -1) if value is None else self._vector(name, value)
                if value is not None and null is not None:
                    out = torch.where(null[:, None], self.nulls[name].expand_as(out), out)
                vector = vector + out
                continue
            out = self._null_tokens(name, batch) if value is None else self._tokens(name, value)
            if value is not None and null is not None:
                out = torch.where(null[:, None, None], self._null_tokens(name, batch), out)
            vector = vector + self.pool[name](out.mean(1))
            tokens.append(self._pool(name)(out))
            if name in self.placed:
                where = self._where(name)
                here = self.inplace[name](out)
                if where is not None:
                    here = here.new_zeros(batch, self.pos.shape[0], here.shape[2]).index_add(1, where, here)
                added = here if added is None else added + here
        context = self.context_norm(torch.cat(tokens, dim=1)) if tokens else None
        return Embedded(vector, context, added)


@dataclass
class Embedded:
    """What `ConditionEmbedder` gives the DiT: `vector` (B, hidden) joins the timestep embedding in every
    adaLN modulation; `context` (B, M, hidden) or None, the tokens of every cross-attention; `added`
    (B, N_real, hidden) or None, what the placed conditions add to the latent tokens after patch embedding."""

    vector: torch.Tensor
    context: torch.Tensor | None
    added: torch.Tensor | None
