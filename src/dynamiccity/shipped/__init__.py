"""Models shipped inside the package, loaded by name where a run folder is expected.

Each is a run folder as training writes it, trimmed to what loading needs: `<kind>-<name>/` holding
`config.yaml`, `checkpoints/best.json` with its safetensors file, and a model card (`README.md`) that
says how it was trained and how it scores. `resolve("evaluator", "synthtown")` is the folder of the
shipped SynthTown evaluator; a path that exists is used as it is.
"""

from __future__ import annotations

from pathlib import Path

KINDS = ("vae", "dit", "evaluator")
ROOT = Path(__file__).parent


def shipped(kind: str) -> tuple[str, ...]:
    """Names of the shipped models of `kind`."""
    if kind not in KINDS:
        raise ValueError(f"unknown model kind {kind!r}; choose one of {', '.join(KINDS)}.")
    return tuple(sorted(p.name.removeprefix(f"{kind}-") for p in ROOT.glob(f"{kind}-*") if p.is_dir()))


def resolve(kind: str, name_or_path: str | Path) -> Path:
    """The run folder `name_or_path` names: an existing folder as it is, else the shipped model of `kind`
    of that name; neither is an error naming both."""
    path = Path(name_or_path)
    if path.exists():
        return path
    names = shipped(kind)
    if str(name_or_path) in names:
        return ROOT / f"{kind}-{name_or_path}"
    offer = f"shipped {kind}s: {', '.join(names)}" if names else f"no {kind} is shipped"
    raise FileNotFoundError(
        f"{name_or_path}: no such run folder, and not the name of a shipped {kind} ({offer})."
    )
