#!/usr/bin/env python3
"""Reference outputs of PyTorch's nn.MultiheadAttention and of the peer's DiTBlock
(shared/peer/torch_kosc_bench.py) for the known-value tests in tests/test_nn_attention.cpp
and tests/test_nn_dit.cpp.

Weights, inputs and conditioning are filled from closed-form sequences, identically in the
C++ tests: parameter i of the flat buffer (named_parameters order, each tensor row-major)
is 0.5 sin(0.7 i + 0.3); token entry j of the (B, n, d) input (row-major, i.e. the memory of
symflow's d x (B n) matrix) is sin(1.3 j + 0.5); conditioning entry j of (B, dc) is
cos(0.9 j + 0.2). Prints the outputs in the same memory order, in double precision.

Run: /usr/bin/python3 tests/torch_ref_transformer.py   (needs Debian's python3-torch)
tests/golden_torch.py imports DiTBlock from here (importing sets no global torch state).
"""
import math

import torch
import torch.nn as nn
import torch.nn.functional as F


class DiTBlock(nn.Module):  # copied structure of the peer's DiTBlock; x (B, n, d), c (B, d)
    def __init__(self, d, heads, d_ff):
        super().__init__()
        self.norm1 = nn.LayerNorm(d)
        self.attn = nn.MultiheadAttention(d, heads, batch_first=True)
        self.norm2 = nn.LayerNorm(d)
        self.ff = nn.Sequential(nn.Linear(d, d_ff), nn.GELU(), nn.Linear(d_ff, d))
        self.cond = nn.Sequential(nn.GELU(), nn.Linear(d, 6 * d))

    def forward(self, x, c):
        g1, b1, a1, g2, b2, a2 = self.cond(c).unsqueeze(1).chunk(6, dim=-1)
        h = g1 * self.norm1(x) + b1
        x = x + a1 * self.attn(h, h, h, need_weights=False)[0]
        h = g2 * self.norm2(x) + b2
        return x + a2 * self.ff(h)


def fill_params(module):
    i = 0
    with torch.no_grad():
        for name, p in module.named_parameters():
            flat = p.view(-1)
            for k in range(flat.numel()):
                flat[k] = 0.5 * math.sin(0.7 * i + 0.3)
                i += 1
    return i


def seq(shape, f):
    n = math.prod(shape)
    return torch.tensor([f(j) for j in range(n)]).view(*shape)


def show(label, t):
    vals = ", ".join(f"{v:.17g}" for v in t.reshape(-1).tolist())
    print(f"// {label} ({t.numel()} values)\n{{{vals}}}")


def main():
    torch.set_default_dtype(torch.float64)
    d, heads, n, batch = 4, 2, 3, 2
    x = seq((batch, n, d), lambda j: math.sin(1.3 * j + 0.5))

    mha = nn.MultiheadAttention(d, heads, batch_first=True)
    print("// MultiheadAttention(d=4, heads=2), n=3, B=2; params:",
          [(k, tuple(v.shape)) for k, v in mha.named_parameters()], fill_params(mha))
    y = mha(x, x, x, need_weights=False)[0]
    show("mha y", y)

    d_ff = 6
    blk = DiTBlock(d, heads, d_ff)
    print("// DiTBlock(d=4, heads=2, d_ff=6); params:", fill_params(blk))
    c = seq((batch, d), lambda j: math.cos(0.9 * j + 0.2))
    show("dit y", blk(x, c))


if __name__ == "__main__":
    main()
