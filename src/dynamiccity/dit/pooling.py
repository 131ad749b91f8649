"""Condition tokens pooled over blocks of the DiT's patch grid: a cross-attention sized to what they hold.

A HexPlane condition (the previous window, the single frame) gives one token per real map token, so the
cross-attention of every block attends to several times as many condition tokens as there are map tokens.
Pooling them k x k on the patch grid divides that by about k^2; each pooled token is the mean of the tokens
in its block, position embedding included, so it stays where its block lies. Only the cross-attention's
context is pooled: the adaLN vector and the placed branch keep every token.
"""

from __future__ import annotations

import torch
from torch import nn


class TokenPool(nn.Module):
    """(B, N, D) tokens lying on cells of a patch grid -> (B, M, D), the mean of the tokens in each k x k
    block of cells that holds any of them, blocks in row-major order. `factor` 1 is the identity.

    Args:
        cells: (N,) the row-major index, in a grid of `cols` columns, of the cell each token lies on.
        cols: columns of the patch grid.
        factor: k, the side of a block in cells.
    """

    def __init__(self, cells: torch.Tensor, cols: int, factor: int) -> None:
        super().__init__()
        if factor < 1:
            raise ValueError(f"a token pooling factor must be >= 1, got {factor}.")
        self.factor = factor
        block_cols = -(-cols // factor)
        blocks = (cells // cols // factor) * block_cols + (cells % cols) // factor
        kept, index = torch.unique(blocks, return_inverse=True)
        counts = torch.bincount(index, minlength=kept.numel()).float()
        self.size = int(kept.numel()) if factor > 1 else int(cells.numel())
        self.register_buffer("index", index, persistent=False)
        self.register_buffer("weight", 1.0 / counts[index], persistent=False)

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        if self.factor == 1:
            return tokens
        b, _, d = tokens.shape
        weighted = tokens * self.weight.to(tokens.dtype)[:, None]
        return tokens.new_zeros(b, self.size, d).index_add(1, self.index, weighted)
