"""Probe (issues 39/40): how learnable a VAE's one-pass latents are for a DiT, beside how well they reconstruct.

N windows of a SynthTown folder (seen from their middle frame, as the centred VAEs see them) are encoded in one
pass and normalised per channel as `encode` normalises them for the DiT (std 1 over these windows). Reported:

- recon: mIoU of the decoded latent against the truth;
- xy_high_share_2 / _4: the share of the xy plane's variation across windows that sits inside 2 x 2 (4 x 4)
  cell blocks, what averaging the blocks removes (a DiT forms a scene coarse to fine; Skorokhodov et al. 2025);
- scene_high_share_2 / _4: the same share for the scene itself: each (x, y) column's class shares (over
  heights and frames) averaged to the xy plane's cells, i.e. how much detail the data holds at that scale;
- lowpass_2 / _4: mIoU, against the plain decode, of the latent whose xy plane is averaged over such blocks;
- noise_S: mIoU, against the plain decode, of the latent with Gaussian noise of std S added (normalised units);
- coarse_recon: mIoU of the latent averaged over 2 x 2 cells in X and Y (`vae.scale.coarsen`), decoded on the
  half grid, against each 2 x 2 voxel block's most common class: what the scale-equivariance term trains.

    python diffusability.py VAE_RUN DATA_DIR [N] [--json OUT]
"""

import argparse
import json

import numpy as np
import torch
import torch.nn.functional as F
from probes import miou

from dynamiccity.hexplane import PLANES, HexPlane
from dynamiccity.runs.datasets import DataSpec, open_windows
from dynamiccity.runs.loading import load_vae
from dynamiccity.vae.scale import coarse_targets, coarsen


def lowpass(plane: torch.Tensor, k: int) -> torch.Tensor:
    return F.interpolate(F.avg_pool2d(plane, k), scale_factor=k, mode="nearest")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("vae")
    parser.add_argument("data")
    parser.add_argument("n", nargs="?", type=int, default=32)
    parser.add_argument("--json")
    args = parser.parse_args()
    torch.set_grad_enabled(False)
    vae = load_vae(args.vae)
    model = vae.model
    windows = open_windows(
        DataSpec(args.data, "synthtown", stride=8, coordinates="centred"), model.cfg.frames
    )
    picks = np.linspace(0, len(windows) - 1, args.n).round().astype(int)
    truth = np.stack([windows[int(i)].labels for i in picks])
    latent = HexPlane.cat([model.encode(torch.from_numpy(t)[None].long()) for t in truth])
    planes = latent.as_dict()
    flat = torch.cat([p.movedim(1, -1).reshape(-1, p.shape[1]) for p in planes.values()])
    mean, std = flat.mean(0).view(1, -1, 1, 1), flat.std(0).view(1, -1, 1, 1)
    normed = {n: (p - mean) / std for n, p in planes.items()}

    def decode(z: dict[str, torch.Tensor]) -> np.ndarray:
        raw = {n: p * std + mean for n, p in z.items()}
        out = []
        for i in range(0, len(truth), 8):
            part = HexPlane.from_planes({n: raw[n][i : i + 8] for n in PLANES})
            out.append(model.decode(part).argmax(-1).numpy())
        return np.concatenate(out)

    def against(z: dict[str, torch.Tensor], reference: np.ndarray) -> float:
        return round(float(np.mean([miou(a, b) for a, b in zip(decode(z), reference, strict=True)])), 3)

    plain = decode(normed)
    xy = normed["xy"]
    deviation = xy - xy.mean(0, keepdim=True)
    result = {"vae": args.vae, "step": vae.step, "data": args.data, "windows": len(truth)}
    result["recon"] = round(float(np.mean([miou(a, b) for a, b in zip(plain, truth, strict=True)])), 3)
    onehot = F.one_hot(
        torch.from_numpy(truth).long().clamp(0, model.cfg.num_classes - 1), model.cfg.num_classes
    )
    columns = onehot.float().mean(dim=(1, 4)).permute(0, 3, 1, 2)  # (N, K, X, Y)
    cells = F.adaptive_avg_pool2d(columns, tuple(xy.shape[-2:]))
    scene = cells - cells.mean(0, keepdim=True)
    for k in (2, 4):
        inside = scene - lowpass(scene, k)
        result[f"scene_high_share_{k}"] = round(float(inside.square().sum() / scene.square().sum()), 3)
        high = deviation - lowpass(deviation, k)
        result[f"xy_high_share_{k}"] = round(float(high.square().sum() / deviation.square().sum()), 3)
        result[f"lowpass_{k}"] = against(normed | {"xy": lowpass(xy, k)}, plain)
    generator = torch.Generator().manual_seed(0)
    for s in (0.2, 0.5):
        noisy = {n: p + s * torch.randn(p.shape, generator=generator) for n, p in normed.items()}
        result[f"noise_{s}"] = against(noisy, plain)
    shares, _ = coarse_targets(torch.from_numpy(truth).long(), torch.ones(truth.shape, dtype=torch.bool), 12)
    coarse = np.concatenate(
        [model.decode(coarsen(latent[i : i + 8])).argmax(-1).numpy() for i in range(0, len(truth), 8)]
    )
    blocks = shares.argmax(-1).numpy()
    result["coarse_recon"] = round(
        float(np.mean([miou(a, b) for a, b in zip(coarse, blocks, strict=True)])), 3
    )
    print(json.dumps(result))
    if args.json:
        with open(args.json, "w") as f:
            json.dump(result, f, indent=1)


if __name__ == "__main__":
    main()
