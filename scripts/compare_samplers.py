"""Compare samplers of a trained DiT: seconds per scene and class-histogram distance to a reference sampler.

    python scripts/compare_samplers.py --dit RUN --vae RUN --num 8 --out docs/results/dit-.../samplers.json \
        ddpm-1000 ddim-50 dpmpp-20 dpmpp-50

The first sampler is the reference. Every sampler starts from the same seed. The real data's histogram
(the windows the latents were encoded from) is reported beside them, and so is the noise floor: the
distance between the reference and the reference run again from another seed. A sampler whose distance to
the reference is at that floor cannot be told apart from it with `--num` scenes. `temporal_change`
(`dynamiccity.metrics`) measures how much each set's frames change from one to the next, beside the data's.
"""

from __future__ import annotations

import argparse
import json

import numpy as np

from dynamiccity.atomic import write_text
from dynamiccity.data import open_dataset
from dynamiccity.data.errors import DataError
from dynamiccity.generation.generate import generate_with
from dynamiccity.generation.sampling import load_pair
from dynamiccity.metrics import class_histogram, histogram_distance, temporal_change
from dynamiccity.pipeline import SampleSpec


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--dit", required=True)
    parser.add_argument("--vae", required=True)
    parser.add_argument("--num", type=int, default=8)
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", required=True)
    parser.add_argument("samplers", nargs="+", help="NAME-STEPS, the first is the reference")
    args = parser.parse_args()

    dit, vae = load_pair(args.dit, args.vae, "cpu")
    manifest = dit.manifest
    k = manifest.vae_config.num_classes
    data = manifest.data
    windows = open_dataset(data["path"], data["format"], frames=manifest.frames, stride=manifest.frames)
    real_windows = np.stack([windows[i].labels for i in range(len(windows))])
    real, real_change = class_histogram(real_windows, k), temporal_change(real_windows)
    print(f"real data: {len(real_windows)} windows, temporal change {real_change:.4f}", flush=True)
    results, reference = {}, None
    for spec in args.samplers:
        name, steps = spec.split("-")
        scenes, facts = generate_with(dit, vae, args.num, SampleSpec(name, int(steps), args.seed, args.batch))
        hist = class_histogram(scenes, k)
        reference = hist if reference is None else reference
        results[spec] = {
            "seconds_per_scene": facts["seconds_per_scene"],
            "tv_to_reference": histogram_distance(hist, reference),
            "tv_to_real": histogram_distance(hist, real),
            "occupied_share": float((scenes != 0).mean()),
            "temporal_change": temporal_change(scenes),
            "histogram": hist.round(5).tolist(),
        }
        print(spec, json.dumps({k2: v for k2, v in results[spec].items() if k2 != "histogram"}), flush=True)
    name, steps = args.samplers[0].split("-")
    reseeded, _ = generate_with(dit, vae, args.num, SampleSpec(name, int(steps), args.seed + 1, args.batch))
    floor = histogram_distance(class_histogram(reseeded, k), reference)
    print(f"noise floor ({args.samplers[0]}, seed {args.seed} vs {args.seed + 1}): {floor:.4f}", flush=True)
    payload = {
        "reference": args.samplers[0],
        "noise_floor": floor,
        "num": args.num,
        "seed": args.seed,
        "real_histogram": real.round(5).tolist(),
        "real_occupied_share": float((real_windows != 0).mean()),
        "real_temporal_change": real_change,
        "samplers": results,
    }
    write_text(args.out, json.dumps(payload, indent=1) + "\n")


if __name__ == "__main__":
    try:
        main()
    except (DataError, FileNotFoundError, ValueError) as error:  # bad input: one line, as the CLI says it
        raise SystemExit(f"error: {error}") from None
