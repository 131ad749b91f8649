"""`bench.flops`: the FLOP counter against hand counts of one VAE and one DiT block, the matmul peak, and
the rate record.

A multiply-add is 2 FLOPs. A convolution's backward computes the input's gradient and the weight's, each as
many FLOPs as its forward, so forward and backward of a convolution whose input needs a gradient are 3x its
forward; the same holds for a linear layer.
"""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from dynamiccity.bench.flops import MachinePeak, Rate, machine_peak, matmul_peak, rate_table, step_flops
from dynamiccity.dit.blocks import DiTBlock
from dynamiccity.vae.encoder import ResBlock3d

N, C, X, Y, Z = 2, 4, 6, 5, 3  # ResBlock3d input (N, C, X, Y, Z)
B, T, D, HEADS, MLP_RATIO = 2, 10, 32, 4, 4.0  # DiT block tokens (B, T, D)


def conv3_flops() -> int:
    """One 3x3x3 convolution, C -> C, padding 1: 27 taps per output voxel, padding included."""
    return 2 * C * C * 27 * N * X * Y * Z


@pytest.mark.parametrize("backward", [False, True], ids=["forward", "forward-backward"])
def test_a_resblock_is_its_two_convolutions(backward):
    torch.manual_seed(0)
    block = ResBlock3d(C)
    x = torch.randn(N, C, X, Y, Z, requires_grad=backward)

    def run() -> None:
        out = block(x)
        if backward:
            out.sum().backward()

    # the norms, the LeakyReLU and the residual sum are elementwise: not counted
    assert step_flops(run) == 2 * conv3_flops() * (3 if backward else 1)


def dit_block_flops() -> int:
    """adaLN, qkv, the attention's two batched products, the output projection and the MLP's two layers."""
    width = int(D * MLP_RATIO)
    ada = 2 * B * D * 6 * D  # c (B, D) -> six modulations (B, 6D)
    qkv = 2 * B * T * D * 3 * D
    attention = 2 * (2 * B * T * T * D)  # q k^T and (softmax) v, summed over heads: D = HEADS * head_dim
    proj = 2 * B * T * D * D
    mlp = 2 * (2 * B * T * D * width)
    return ada + qkv + attention + proj + mlp


def test_a_dit_block_is_its_matmuls_attention_included():
    torch.manual_seed(0)
    block = DiTBlock(D, HEADS, MLP_RATIO)
    x, c = torch.randn(B, T, D), torch.randn(B, D)
    assert step_flops(lambda: block(x, c)) == dit_block_flops()


def test_cpu_attention_is_counted_forward_and_backward():
    # torch's FlopCounterMode has no formula for the CPU kernel; ours is torch's for the CUDA ones: the
    # forward is 2 batched products, the backward 5 (the scores recomputed, then dV, dP, dQ, dK)
    q, k, v = (torch.randn(B, HEADS, T, D // HEADS, requires_grad=True) for _ in range(3))
    forward = 2 * (2 * B * T * T * D)
    assert step_flops(lambda: F.scaled_dot_product_attention(q, k, v)) == forward
    assert step_flops(lambda: F.scaled_dot_product_attention(q, k, v).sum().backward()) == 3.5 * forward


def test_matmul_peak_is_a_rate_of_the_right_order():
    # a 256-wide product on one thread takes ~1 ms here; 0.5 s of them measured 47-60 GFLOP/s
    peak = matmul_peak("cpu", torch.float32, size=256)
    assert 1e8 < peak < 1e13


def test_the_machine_peak_has_bf16_only_where_it_pays():
    from dynamiccity.device import bf16_pays

    machine = machine_peak("cpu")
    assert machine.fp32_flop_s > 0 and machine.threads == torch.get_num_threads()
    assert (machine.bf16_flop_s is not None) == bf16_pays(torch.device("cpu"))
    assert machine.flop_s(False) == machine.fp32_flop_s


def test_a_missing_bf16_peak_is_an_error():
    machine = MachinePeak("cpu", 1, 1024, 5e10, None)
    with pytest.raises(ValueError, match="bf16"):
        machine.flop_s(True)


def test_a_rate_is_flops_over_seconds_over_peak():
    rate = Rate.of(flops=6 * 10**9, seconds=2.0, peak_flop_s=1e10)
    assert (rate.flop_s, rate.share_of_peak) == (3e9, 0.3)
    table = rate_table({"train_step": rate}).splitlines()
    assert len(table) == 3 and table[2] == "| train_step | 6 | 2 | 3 | 10 | 30.0% |"
