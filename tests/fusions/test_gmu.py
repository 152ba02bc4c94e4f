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


def test_stream_norm_normalises_each_candidate_before_the_tanh():
    """stream_norm=True: h_i = tanh(LayerNorm(W_i x_i)); the default keeps the paper's tanh(W_i x_i)."""
    torch.manual_seed(0)
    f = streamfuse.create_fusion("gmu", [6, 3], dim=5, stream_norm=True).eval()
    xs = [torch.randn(4, 6), 10 * torch.randn(4, 3)]
    h = [torch.tanh(torch.nn.functional.layer_norm(lin(x), (5,))) for lin, x in zip(f.proj.first, xs)]
    out, w = f(xs, return_weights=True)
    torch.testing.assert_close(out, w[:, 0] * h[0] + w[:, 1] * h[1])
    paper = streamfuse.create_fusion("gmu", [6, 3], dim=5).eval()
    with torch.no_grad():  # same parameters: only the normalisation differs
        for mine, theirs in zip(paper.parameters(), f.parameters(), strict=True):
            mine.copy_(theirs)
    assert not torch.allclose(paper(xs), out)
