"""Profile one VAE training step (forward, loss, backward, AdamW) and list the most expensive operators.

    python scripts/profile_vae_step.py --preset carlasc --device cuda [--cudnn-benchmark] [--rows 25] [--shapes]

The same labels and loss as `dynamiccity bench vae`; bf16 autocast where it pays.
"""

from __future__ import annotations

import argparse
import time

import torch

from dynamiccity.bench.vae import structured_labels
from dynamiccity.data.errors import DataError
from dynamiccity.device import autocast, bf16_pays
from dynamiccity.train.loop import adamw
from dynamiccity.vae.config import vae_preset
from dynamiccity.vae.losses import vae_loss
from dynamiccity.vae.model import HexPlaneVAE


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--preset", default="carlasc")
    parser.add_argument("--encoder", default="projection")
    parser.add_argument("--decoder", default="ess")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--cudnn-benchmark", action="store_true")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--rows", type=int, default=25)
    parser.add_argument("--shapes", action="store_true", help="Group operators by their input shapes.")
    args = parser.parse_args()
    torch.backends.cudnn.benchmark = args.cudnn_benchmark
    device = torch.device(args.device)
    cfg = vae_preset(args.preset).with_overrides(encoder=args.encoder, decoder=args.decoder)
    torch.manual_seed(0)
    labels = structured_labels(cfg, 1).to(device)
    model = HexPlaneVAE(cfg).to(device)
    opt = adamw(model.parameters(), lr=1e-3)
    bf16 = bf16_pays(device)

    def step() -> None:
        with autocast(device):
            out = model(labels)
            loss = vae_loss(out.logits, labels, out.posterior.kl()).total
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()

    def sync() -> None:
        if device.type == "cuda":
            torch.cuda.synchronize()

    for _ in range(2):
        step()
    sync()
    start = time.perf_counter()
    for _ in range(args.repeats):
        step()
    sync()
    print(
        f"{args.preset} {args.encoder}/{args.decoder} on {device}, cudnn.benchmark={args.cudnn_benchmark}, "
        f"bf16={bf16}: {(time.perf_counter() - start) / args.repeats:.4f} s/step"
    )
    activities = [torch.profiler.ProfilerActivity.CPU]
    if device.type == "cuda":
        activities.append(torch.profiler.ProfilerActivity.CUDA)
    with torch.profiler.profile(activities=activities, record_shapes=args.shapes) as prof:
        step()
        sync()
    key = "self_cuda_time_total" if device.type == "cuda" else "self_cpu_time_total"
    print(
        prof.key_averages(group_by_input_shape=args.shapes).table(
            sort_by=key, row_limit=args.rows, max_name_column_width=60
        )
    )


if __name__ == "__main__":
    try:
        main()
    except (DataError, FileNotFoundError, ValueError) as error:  # bad input: one line, as the CLI says it
        raise SystemExit(f"error: {error}") from None
