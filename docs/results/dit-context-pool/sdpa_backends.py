"""Probe (issue 41): the fused (flash) scaled-dot-product attention against the explicit softmax on the CPU, forward
and backward, at the tiny DiT's sizes (batch 16, 4 heads of width 32, 400 queries; 400, 230 and 1000 keys).
    OMP_NUM_THREADS=1 python sdpa_backends.py
"""

import time

import torch
import torch.nn.functional as F
from torch.nn.attention import SDPBackend, sdpa_kernel

torch.manual_seed(0)


def bench(B, H, Lq, Lk, D, backend):
    q = torch.randn(B, H, Lq, D, requires_grad=True)
    k = torch.randn(B, H, Lk, D, requires_grad=True)
    v = torch.randn(B, H, Lk, D, requires_grad=True)

    def run():
        with sdpa_kernel(backend):
            o = F.scaled_dot_product_attention(q, k, v)
        o.sum().backward()

    run()
    t = time.perf_counter()
    for _ in range(3):
        run()
    return (time.perf_counter() - t) / 3


for Lq, Lk in ((400, 400), (400, 230), (400, 1000)):
    r = {b.name: bench(16, 4, Lq, Lk, 32, b) for b in (SDPBackend.FLASH_ATTENTION, SDPBackend.MATH)}
    print(Lq, Lk, {k: round(v, 4) for k, v in r.items()})
