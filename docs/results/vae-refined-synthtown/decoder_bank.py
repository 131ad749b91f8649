"""A VAE's decoder co-trained with a bank of per-window latents (an auto-decoder), its encoder frozen.

    python docs/results/vae-refined-synthtown/decoder_bank.py synthtown --out runs/vae-bank [--bank 16]
        [--inner 3] [--lr 2e-3] [--steps N | --minutes M] [--seed 0]

Kept as the record of the shipped `synthtown-refined` weights: with `--steps 380` it replays them (it gives
the weights of `run_as.py`, the run as it went, bit for bit over the first 10 steps). The recipe is now a
`train-vae` mode (`bank:`, configs/vae-synthtown-decoder-bank-cpu.yaml), which draws its bank and its visits
in its own order.

Refined encoding (`vae.refine`) finds latents that a decoder draws far better than its encoder's, but a
decoder trained only on its encoder's latents never learned to draw what no encoder latent asked of it: the
shipped SynthTown VAE draws no bicycle from any latent (docs/vae.md, "the decoder never draws a bicycle").
Here the decoder learns from refined latents. A bank holds the latents of `--bank` training windows that
contain bicycles and `--bank` that do not, each starting as the encoder's posterior mean. A step picks one
window, refines its bank latent by `--inner` Adam steps (lr 0.2, the decoder frozen), then updates the
decoder (AdamW, `--lr`, gradient norm clipped at 1) on the sum of two losses: decoding the refined latent,
and decoding a sample of the encoder's posterior, so that every latent the encoder gives (and a DiT trained
on them learns) still decodes. Both losses are the VAE's training loss without KL (cross-entropy weighted by
the bank windows' class frequencies at power 1/3, plus Lovasz-softmax with 4096 error bins).

The encoder is untouched: the run's latents are the VAE's latents, bit for bit. Writes OUT/config.yaml
(the VAE's) and OUT/checkpoints/best.json with its safetensors file, loadable wherever a VAE run is
(`eval-vae OUT --refine N`), and OUT/log.jsonl, a line every 10 steps.
"""

from __future__ import annotations

import argparse
import json
import random
import shutil
import time
from pathlib import Path

import numpy as np
import torch

from dynamiccity.atomic import write_text
from dynamiccity.data.classes import BICYCLE
from dynamiccity.hexplane import PLANES, HexPlane
from dynamiccity.runs.datasets import open_windows
from dynamiccity.runs.loading import load_vae
from dynamiccity.shipped import resolve
from dynamiccity.train.checkpoint import save_checkpoint
from dynamiccity.vae.losses import class_weights, vae_loss
from dynamiccity.vae.model import ENCODER_PARTS


def bank_windows(data, per_kind: int) -> list[np.ndarray]:
    """`per_kind` windows of `data` with a bicycle and `per_kind` without, each kind shuffled."""
    with_bicycle, without = [], []
    for i in range(len(data)):
        labels = data[i].labels
        (with_bicycle if (labels == BICYCLE).any() else without).append(labels)
    random.shuffle(with_bicycle)
    random.shuffle(without)
    return with_bicycle[:per_kind] + without[:per_kind]


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("vae", help="the VAE to start from: a run folder or a shipped name")
    parser.add_argument("--out", required=True)
    parser.add_argument(
        "--bank", type=int, default=16, help="windows of each kind (with and without bicycles)"
    )
    parser.add_argument("--inner", type=int, default=3, help="latent steps per visit")
    parser.add_argument("--lr", type=float, default=2e-3, help="the decoder's step size")
    stop = parser.add_mutually_exclusive_group(required=True)
    stop.add_argument("--steps", type=int, help="decoder steps")
    stop.add_argument("--minutes", type=float, help="train for this long")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    torch.manual_seed(args.seed)
    random.seed(args.seed)
    vae = load_vae(args.vae)
    model = vae.model.eval()
    for part in ENCODER_PARTS:
        getattr(model, part).requires_grad_(False)
    train = open_windows(vae.config.data, vae.config.model.frames, "train")
    windows = bank_windows(train, args.bank)
    counts = sum(np.bincount(w.reshape(-1), minlength=vae.config.model.num_classes) for w in windows)
    weights = class_weights(counts, 1.0 / 3.0)
    labels = [torch.from_numpy(w.astype(np.int64))[None] for w in windows]
    bank = [[p.detach().clone().requires_grad_(True) for p in model.encode(x).planes()] for x in labels]
    latent_optim = torch.optim.Adam([p for planes in bank for p in planes], lr=0.2)
    decoder = [p for p in model.parameters() if p.requires_grad]
    optim = torch.optim.AdamW(decoder, lr=args.lr, weight_decay=0.0)
    zero = torch.zeros(())

    def loss(logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        return vae_loss(logits, target, zero, weights, None, 1.0, 0.0, 4096).total

    def decode(planes: list[torch.Tensor]) -> torch.Tensor:
        return model.decode(HexPlane.from_planes(dict(zip(PLANES, planes, strict=True))))

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    log = []
    begin, step = time.perf_counter(), 0
    while (
        (step < args.steps) if args.steps is not None else (time.perf_counter() - begin < args.minutes * 60)
    ):
        i = random.randrange(len(windows))
        target, planes = labels[i], bank[i]
        for _ in range(args.inner):
            grads = torch.autograd.grad(loss(decode(planes), target), planes)
            for p, g in zip(planes, grads, strict=True):
                p.grad = g
            latent_optim.step()
            latent_optim.zero_grad(set_to_none=True)
        refined = loss(decode(planes), target)
        model.train()
        encoded = loss(model.decode(model.posterior(target).sample()), target)
        model.eval()
        optim.zero_grad()
        (refined + encoded).backward()
        for p in planes:
            p.grad = None
        torch.nn.utils.clip_grad_norm_(decoder, 1.0)
        optim.step()
        step += 1
        if step % 10 == 0:
            entry = {"step": step, "seconds": round(time.perf_counter() - begin, 1),
                     "refined": round(refined.item(), 4), "encoded": round(encoded.item(), 4)}  # fmt: skip
            log.append(entry)
            print(json.dumps(entry), flush=True)

    source = resolve("vae", args.vae)
    shutil.copyfile(source / "config.yaml", out / "config.yaml")
    meta = {
        "config": vae.config.to_dict(),
        "step": step,
        "decoder_bank": {**vars(args), "started_from": str(vae.checkpoint), "seconds": round(time.perf_counter() - begin, 1),
                         "cpu": torch.backends.cpu.get_cpu_capability(), "threads": torch.get_num_threads()},
    }  # fmt: skip
    save_checkpoint(
        out / "checkpoints", "best", {k: v.contiguous() for k, v in model.state_dict().items()}, meta
    )
    write_text(out / "log.jsonl", "".join(json.dumps(e) + "\n" for e in log))
    print(f"{out}: {step} steps in {time.perf_counter() - begin:.0f} s")


if __name__ == "__main__":
    main()
