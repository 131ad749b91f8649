"""Score screening runs of the VAE on held-out windows and tabulate them by variant over seeds.

    python docs/results/vae-synthtown32-screening/vae_screening.py runs/screen/narrow-s1 runs/screen/narrow-s2 ... \
        --data data/synthtown32 --format synthtown --out docs/results/vae-synthtown32-screening

Each RUN is named VARIANT-sSEED; the scores are `eval-vae --ego-motion` on every held-out window (written to
OUT/VARIANT-sSEED.json, and reused from there when present), the table (OUT/table.md) gives each variant's
mean and, per seed, the values.
"""

from __future__ import annotations

import argparse
import json
from collections import defaultdict
from pathlib import Path

import numpy as np

from dynamiccity.atomic import write_text
from dynamiccity.pipeline import DataSpec, evaluate_vae

COLUMNS = {
    "mIoU": lambda m: m["miou"],
    "occupancy IoU": lambda m: m["iou"],
    "changing mIoU": lambda m: m["changing"]["miou"],
    "vehicle IoU": lambda m: m["per_class"].get("vehicle", float("nan")),
    "vehicle ghost share": lambda m: m["ghosts"].get("vehicle", {}).get("ghost_share", float("nan")),
    "ego command through VAE": lambda m: m["ego_motion"]["reconstruction"]["command_agreement"],
    "ego FDE through VAE (m)": lambda m: m["ego_motion"]["reconstruction"]["fde"],
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("runs", nargs="+")
    parser.add_argument("--data", required=True)
    parser.add_argument("--format", required=True)
    parser.add_argument("--out", required=True)
    args = parser.parse_args()
    out = Path(args.out)
    by_variant: dict[str, list[dict]] = defaultdict(list)
    for run in args.runs:
        name = Path(run).name
        path = out / f"{name}.json"
        if path.is_file():
            metrics = json.loads(path.read_text())
        else:
            metrics = evaluate_vae(run, DataSpec(args.data, args.format), "val", ego_motion=True)
            write_text(path, json.dumps(metrics, indent=1) + "\n")
        by_variant[name.rsplit("-s", 1)[0]].append(metrics)
        print(name, {k: round(f(metrics), 3) for k, f in COLUMNS.items()}, flush=True)
    lines = [
        "| variant | seeds | " + " | ".join(COLUMNS) + " |",
        "|---|---|" + "---|" * len(COLUMNS),
    ]
    for variant, runs in by_variant.items():
        cells = []
        for f in COLUMNS.values():
            values = [f(m) for m in runs]
            cells.append(f"**{np.mean(values):.3f}** ({', '.join(f'{v:.3f}' for v in values)})")
        lines.append(f"| {variant} | {len(runs)} | " + " | ".join(cells) + " |")
    first = runs[0]["ego_motion"]["input"]
    lines.append(
        f"\nThe ego-motion estimator on the input windows themselves: command agreement "
        f"{first['command_agreement']:.3f}, FDE {first['fde']:.2f} m ({runs[0]['ego_motion']['windows']} windows)."
    )
    write_text(out / "table.md", "\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
