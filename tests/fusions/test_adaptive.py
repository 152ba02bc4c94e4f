import torch
import torch.nn.functional as F

import streamfuse


def test_adaptive_matches_the_seed_formula_written_naively():
    """x_i' = LN(MLP_i(x_i)), W_i = MLP_wi(x_i') + k b_i, softmax across streams, sum x_i' * W_i."""
    f = streamfuse.create_fusion("adaptive", [17, 3], dim=8).eval()
    with torch.no_grad():
        f.stream_bias.copy_(torch.tensor([[0.05], [-0.02]]))
    x1, x2 = torch.randn(6, 17), torch.randn(6, 3)
    p = f.proj
    act = F.gelu
    proj = [
        F.layer_norm(act(x @ p.first[i].weight.T + p.first[i].bias) @ p.second.weight[i] + p.second.bias[i], (8,))
        for i, x in enumerate([x1, x2])
    ]
    logits = [
        act(h @ f.weight_in.weight[i] + f.weight_in.bias[i]) @ f.weight_out.weight[i] + f.weight_out.bias[i] + 10 * f.stream_bias[i]
        for i, h in enumerate(proj)
    ]
    w = torch.softmax(torch.stack(logits, 1), dim=1)
    expected = proj[0] * w[:, 0] + proj[1] * w[:, 1]
    out, weights = f([x1, x2], return_weights=True)
    torch.testing.assert_close(out, expected)
    torch.testing.assert_close(weights, w)
    assert weights[:, 0].std(0).mean() > 0  # per-sample: weights differ between samples


def test_adaptive_sigmoid_weights_are_independent_gates():
    f = streamfuse.create_fusion("adaptive", [5, 5], normalize="sigmoid").eval()
    _, w = f([torch.randn(4, 5), torch.randn(4, 5)], return_weights=True)
    assert ((w > 0) & (w < 1)).all()
    assert not torch.allclose(w.sum(1), torch.ones(4, 5))
