import torch

import streamfuse


def test_lowrank_equals_full_tensor_fusion_with_factorised_weight():
    """LMF == tensor fusion: W . (z_1 outer z_2 outer z_3), z_i = [x_i; 1], W = sum_r w_r (x)_i W_i^r."""
    dims, d, rank = [2, 3, 2], 4, 3
    f = streamfuse.create_fusion("lowrank", dims, dim=d, rank=rank).eval()
    xs = [torch.randn(5, c) for c in dims]
    # Factor W_i^r as a (c_i + 1, d) matrix: rows for x_i, last row the bias (the appended 1).
    factors = []
    for lin, c in zip(f.factors, dims):
        w = torch.cat([lin.weight.T, lin.bias.unsqueeze(0)], 0)  # (c+1, rank*d)
        factors.append(w.view(c + 1, rank, d))
    full = torch.einsum("r,ard,brd,crd->abcd", f.rank_weight, *factors)  # the full fusion tensor
    zs = [torch.cat([x, torch.ones(5, 1)], 1) for x in xs]
    expected = torch.einsum("na,nb,nc,abcd->nd", *zs, full) + f.bias
    torch.testing.assert_close(f(xs), expected, rtol=1e-4, atol=1e-5)


def test_masked_stream_is_the_neutral_factor():
    f = streamfuse.create_fusion("lowrank", [3, 3], dim=4).eval()
    x1, x2 = torch.randn(2, 3), torch.randn(2, 3)
    mask = torch.tensor([[True, False], [True, False]])
    f1 = f.factors[0](x1).view(2, f.rank, 4)
    torch.testing.assert_close(f([x1, x2], mask=mask), torch.einsum("r,nrd->nd", f.rank_weight, f1) + f.bias)
