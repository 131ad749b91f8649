"""Probe (issue 41): instance normalisation on channels-last volumes, `F.group_norm` against an autograd
function that normalises the (N, S, C) view and writes its own backward.   OMP_NUM_THREADS=1 python instance_norm.py"""

import time

import torch
import torch.nn.functional as F


class CLInstanceNorm(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x, eps):
        n, c = x.shape[:2]
        last = x.movedim(1, -1)
        flat = last.reshape(n, -1, c)
        var, mean = torch.var_mean(flat, dim=1, keepdim=True, correction=0)
        rstd = (var + eps).rsqrt_()
        xhat = (flat - mean).mul_(rstd)
        ctx.save_for_backward(xhat, rstd)
        return xhat.view(last.shape).movedim(-1, 1)

    @staticmethod
    def backward(ctx, grad):
        xhat, rstd = ctx.saved_tensors
        n, c = grad.shape[:2]
        last_shape = (n, *grad.shape[2:], c)
        g = grad.movedim(1, -1).reshape(n, -1, c)
        mg = g.mean(1, keepdim=True)
        mgx = (g * xhat).mean(1, keepdim=True)
        dx = (g - mg).sub_(xhat * mgx).mul_(rstd)
        return dx.view(last_shape).movedim(-1, 1), None


def bench(c, shape, f, name):
    x = torch.randn(8, c, *shape).to(memory_format=torch.channels_last_3d).requires_grad_()
    gy = torch.randn_like(x).contiguous(memory_format=torch.channels_last_3d)
    for _ in range(2):
        f(x).backward(gy)
    t0 = time.perf_counter()
    for _ in range(3):
        f(x)
    t1 = time.perf_counter()
    for _ in range(3):
        f(x).backward(gy)
    t2 = time.perf_counter()
    fw = (t1 - t0) / 3
    print(f"{name} {c} {shape}: fwd {fw * 1e3:.0f} ms, bwd {((t2 - t1) / 3 - fw) * 1e3:.0f} ms")


def gn(x):
    return F.group_norm(x, x.shape[1], eps=1e-5)


def cl(x):
    return CLInstanceNorm.apply(x, 1e-5)


for c, shape in ((16, (64, 64, 8)), (32, (64, 64, 8)), (64, (32, 32, 4))):
    bench(c, shape, gn, "group_norm")
    bench(c, shape, cl, "custom   ")
x = torch.randn(2, 16, 8, 8, 4, dtype=torch.float64).to(memory_format=torch.channels_last_3d).requires_grad_()
print(torch.autograd.gradcheck(lambda x: CLInstanceNorm.apply(x, 1e-5), (x,)))
a = torch.randn(2, 16, 8, 8, 4).to(memory_format=torch.channels_last_3d).requires_grad_()
g = torch.randn_like(a)
y1 = gn(a)
(d1,) = torch.autograd.grad(y1, a, g)
y2 = cl(a)
(d2,) = torch.autograd.grad(y2, a, g)
print((y1 - y2).abs().max().item(), (d1 - d2).abs().max().item())
