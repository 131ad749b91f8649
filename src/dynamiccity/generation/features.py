"""What a generation asks beyond plain sampling (`SampleSpec`), each feature's own request, and the one
place that decides which features a task combines (`Features.check`).

The features: RePaint resampling where part of a scene is kept (`Repaint`), the strips ahead of a
world-coordinate DiT's ego path (`Features.ahead`, `generation.along_path`), and steering through the VAE's
decoder towards a layout or towards the scene an edit keeps (`Steering`). The tasks: generating scenes,
editing one (inpainting, outpainting), growing a city and forecasting."""

from __future__ import annotations

from dataclasses import dataclass, field

TASKS = {
    "generate": "new scenes",
    "edit": "an edit (--inpaint, --outpaint)",
    "city": "a city",
    "forecast": "a forecast",
}
"""What a generation is for, and how a message names it; `Features.check` says which features each takes."""


@dataclass(frozen=True)
class Repaint:
    """How a kept part of a scene (inpainting, outpainting, a city's tiles, the strips ahead) is honoured:
    every sampling step runs `rounds` times (RePaint's resampling, Lugmayr et al. 2022; 1: plain
    replacement)."""

    rounds: int = 1

    def __post_init__(self) -> None:
        if self.rounds < 1:
            raise ValueError(f"resample must be >= 1, got {self.rounds}.")


@dataclass(frozen=True)
class Steering:
    """Steering through the VAE's decoder at every sampling step (`diffusion.steering`): towards the layout
    condition with gradient steps of size `layout` (`generation.layout_steer`), and towards the scene an
    edit keeps with steps of size `context` (`generation.context_steer`); 0 turns one off; `iterations`
    gradient steps per sampling step."""

    layout: float = 0.0
    context: float = 0.0
    iterations: int = 3

    def __post_init__(self) -> None:
        if not (self.layout >= 0 and self.context >= 0) or self.iterations < 1:
            raise ValueError(
                f"layout_steer and context_steer must be >= 0 and steer_iterations >= 1, got "
                f"{self.layout}, {self.context} and {self.iterations}."
            )


@dataclass(frozen=True)
class Features:
    """The features a generation uses, each its own request: `repaint` where part of a scene is kept, the
    strips `ahead` of a world-coordinate DiT's ego path outpainted (else they stay free) and `steering`."""

    repaint: Repaint = field(default_factory=Repaint)
    ahead: bool = True
    steering: Steering = field(default_factory=Steering)

    def check(self, task: str, *, world: bool, layout: bool = False) -> None:
        """Refuse a combination `task` (one of `TASKS`) cannot honour. world: the DiT draws world-coordinate
        windows; layout: a layout condition is given."""
        if task not in TASKS:
            raise ValueError(f"unknown task {task!r}; choose one of {', '.join(TASKS)}.")
        steering = self.steering
        if steering.layout and task != "generate":
            raise ValueError(
                f"--layout-steer steers new scenes towards a layout, not {TASKS[task]}: drop it."
            )
        if steering.layout and not layout:
            raise ValueError("steering towards a layout needs a layout: give --layout or --layout-from.")
        if steering.context and task == "generate" and not world:
            raise ValueError(
                "--context-steer steers edits towards what they keep (--inpaint, --outpaint, a city's tiles, a "
                "world-coordinate DiT's strips ahead); this DiT's plain generation keeps nothing."
            )
        if steering.context and task == "forecast" and not world:
            raise ValueError(
                "--context-steer steers the forecast of a DiT of world coordinates towards the world the past "
                "saw; this DiT draws ego windows."
            )

    def facts(self) -> dict:
        """What a run's JSON records of the features."""
        return {
            "resample": self.repaint.rounds,
            "ahead": self.ahead,
            "layout_steer": self.steering.layout,
            "steer_iterations": self.steering.iterations,
            "context_steer": self.steering.context,
        }


NO_FEATURES = Features()
"""Plain sampling: nothing kept is resampled, nothing steered, strips ahead outpainted."""
