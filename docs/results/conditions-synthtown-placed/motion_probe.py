"""Where a conditional DiT decides the ego's motion: the time planes of its clean-map prediction.

    python docs/results/conditions-synthtown-placed/motion_probe.py runs/dit-cond-placed --json docs/results/.../motion-probe.json

The held-out windows of the run's latents are noised at a few timesteps (one noise draw for every row) and
the DiT's prediction of the clean map x0 is read off its output. Per timestep and per the windows' true
command, the table gives how much the predicted tx and ty planes vary over t (standard deviation over t,
averaged over channels and positions, in normalised latent units): with every condition null, with the
window's own command alone, and with one command forced on every window. The real windows' own values
are the first row. A static window's time planes hardly vary, a moving one's do; a network that decides
the motion from the command makes the forced-command rows differ.
"""

from __future__ import annotations

import argparse
import json
from dataclasses import replace

import torch

from dynamiccity.atomic import write_text
from dynamiccity.data import Command
from dynamiccity.evaluation.conditions import held_out, only
from dynamiccity.runs.dit import DiTTask
from dynamiccity.runs.loading import load_dit

TIMESTEPS = (950, 800, 600, 400, 200)


def variation(task: DiTTask, maps: torch.Tensor) -> dict[str, torch.Tensor]:
    """(B,) std over t of the tx and ty planes of rolled-out maps, averaged over channels and positions."""
    hexplane = task.rollout.unroll(maps)
    return {name: getattr(hexplane, name).std(dim=2).mean(dim=(1, 2)) for name in ("tx", "ty")}


def per_command(values: dict[str, torch.Tensor], command: torch.Tensor) -> dict[str, dict[str, float]]:
    return {
        c.name: {name: round(float(v[command == c.value].mean()), 4) for name, v in values.items()}
        for c in Command
        if bool((command == c.value).any())
    }


@torch.no_grad()
def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("dit")
    parser.add_argument("--windows", type=int, default=256)
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--json")
    args = parser.parse_args()
    dit = load_dit(args.dit, "last")
    if "command" not in dit.config.model.conditions:
        raise SystemExit(f"{args.dit}: this DiT was trained without the command condition.")
    if dit.config.diffusion.prediction != "v_prediction":
        raise SystemExit(f"{args.dit}: the probe reads x0 from a v-prediction DiT only.")
    task = DiTTask(dit.config, torch.device("cpu"))
    x0, cond = held_out(task, args.windows)
    model, scheduler = dit.model.eval(), task.diffusion.train_scheduler
    true = cond.command
    asks = {"every condition null": only(cond, ()), "own command": only(cond, ("command",))}
    for c in Command:
        forced = replace(cond, command=torch.full_like(true, c.value), null={})
        asks[f"{c.name} for every window"] = only(forced, ("command",))
    noise = torch.randn(x0.shape, generator=torch.Generator().manual_seed(0))
    rows = {"real windows": per_command(variation(task, x0), true)}
    for t in TIMESTEPS:
        steps = torch.full((x0.shape[0],), t)
        xt = scheduler.add_noise(x0, noise, steps)
        alpha = scheduler.alphas_cumprod[t]
        for label, given in asks.items():
            v = torch.cat([
                model(xt[i : i + args.batch], steps[i : i + args.batch], given.rows(i, i + args.batch))
                for i in range(0, x0.shape[0], args.batch)
            ])  # fmt: skip
            x0_hat = alpha.sqrt() * xt - (1 - alpha).sqrt() * v
            rows[f"t={t}, {label}"] = per_command(variation(task, x0_hat), true)
    for label, row in rows.items():
        cells = "  ".join(f"{c} {v['tx']:.3f}/{v['ty']:.3f}" for c, v in row.items())
        print(f"{label:40s} {cells}")
    if args.json:
        counts = {c.name: int((true == c.value).sum()) for c in Command}
        out = {"dit": args.dit, "step": dit.step, "windows": int(x0.shape[0]), "per_command": counts}
        write_text(args.json, json.dumps(out | {"rows": rows}, indent=1) + "\n")


if __name__ == "__main__":
    main()
