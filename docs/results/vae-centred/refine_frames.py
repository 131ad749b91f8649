"""Refinement steps on a subset of a window's frames (issue 39): the voxel decoder decodes each frame on its
own (per-frame convs and instance norms), so a step that decodes half the frames costs about half, and twice
as many such steps fit the same encoding time. Scores the VAE's eval-vae reconstruction of DATA with
`steps` Adam steps each decoding `frames` frames of the window (evenly spaced, the offset turning each step).
    python refine_frames.py VAE_RUN DATA STEPS FRAMES_PER_STEP [LR]"""

import json
import sys

import torch
import torch.nn.functional as F

import dynamiccity.runs.validation as validation
from dynamiccity.evaluation.vae import evaluate_vae
from dynamiccity.hexplane import PLANES, HexPlane
from dynamiccity.runs.datasets import DataSpec
from dynamiccity.vae.decoder import expand_and_squeeze
from dynamiccity.vae.losses import vae_loss
from dynamiccity.vae.refine import Refinement, window_weights

run, data, steps, per_step = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
lr = float(sys.argv[5]) if len(sys.argv) > 5 else 0.05


def decode_frames(model, latent: HexPlane, idx: torch.Tensor) -> torch.Tensor:
    """Logits (B, F, X, Y, Z, K) of frames `idx` alone: the ESS decoder run on those frames' time rows."""
    up = model.latent_decoder(latent).as_dict()
    up = {n: (p[:, :, idx] if n.startswith("t") else p) for n, p in up.items()}
    dec = model.voxel_decoder
    vol = expand_and_squeeze(HexPlane.from_planes(up), dec.fusion)
    b, f = vol.shape[:2]
    x = dec.blocks(dec.inp(vol.reshape(-1, *vol.shape[2:])))
    x = F.leaky_relu(dec.up_norm(dec.up(x)), 0.1)
    head = dec.head
    n, _, sx, sy, sz = x.shape
    h = head.features.hidden_last(x.permute(0, 2, 3, 4, 1)).reshape(b, f, sx, sy, sz, -1)
    t, px, py, pz = (axis(getattr(head, f"pe{i}")) for i, axis in enumerate(head.axes))
    pe = t[idx][:, None, None, None] + px[:, None, None] + py[:, None] + pz
    h = F.leaky_relu(h + pe, 0.1).reshape(n, sx, sy, sz, -1)
    return head.out.hidden_last(h).reshape(b, f, sx, sy, sz, -1)


def refine(model, labels, valid, spec):
    latent = model.encode(labels)
    frames = labels.shape[1]
    weights = window_weights(labels, valid.bool(), model.cfg.num_classes)
    planes = [p.detach().clone().requires_grad_(True) for p in latent.planes()]
    optim = torch.optim.Adam(planes, lr=lr)
    every = frames // per_step
    with torch.enable_grad():
        for s in range(steps):
            idx = torch.arange(s % every, frames, every)
            logits = decode_frames(model, HexPlane.from_planes(dict(zip(PLANES, planes, strict=True))), idx)
            loss = vae_loss(logits, labels[:, idx], torch.zeros(()), weights, valid.bool()[:, idx], 1.0, 0.0, 4096)
            optim.zero_grad(set_to_none=True)
            loss.total.backward(inputs=planes)
            optim.step()
    return HexPlane.from_planes({n: p.detach() for n, p in zip(PLANES, planes, strict=True)})


validation.encode_window = refine
torch.manual_seed(0)
result = evaluate_vae(run, DataSpec(data, "synthtown"), "all", None, "cpu", False, Refinement(steps=steps, lr=lr))
print(json.dumps({"steps": steps, "frames_per_step": per_step, "lr": lr, "miou": round(result["miou"], 4),
                  "changing": round(result["changing"]["miou"], 4)}))
