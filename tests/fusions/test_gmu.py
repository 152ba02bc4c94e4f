import torch

import streamfuse


def test_two_stream_gmu_equals_paper_form():
    """Softmax over two gate logits is the paper's z = sigmoid(.), 1 - z with z = sigmoid(g1 - g2)."""
    f = streamfuse.create_fusion("gmu", [6, 3], dim=5).eval()
    xv, xt = torch.randn(4, 6), torch.randn(4, 3)
    hv = torch.tanh(f.proj.first[0](xv))
    ht = torch.tanh(f.proj.first[1](xt))
    g = f.gate(torch.cat([xv, xt], 1)).view(4, 2, 5)
    z = torch.sigmoid(g[:, 0] - g[:, 1])
    out, w = f([xv, xt], return_weights=True)
    torch.testing.assert_close(out, z * hv + (1 - z) * ht)
    torch.testing.assert_close(w[:, 0], z)
