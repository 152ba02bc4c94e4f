import math

import pytest
import torch

import streamfuse


@pytest.mark.parametrize("scorer", ["mlp", "query"])
def test_attention_weights_are_softmax_of_scores(scorer):
    f = streamfuse.create_fusion("attention", [4, 4, 4], scorer=scorer, project=False, stream_norm=False).eval()
    xs = [torch.randn(5, 4) for _ in range(3)]
    x = torch.stack(xs, 1)
    e = f.score(x).squeeze(-1) if scorer == "mlp" else x @ f.query / math.sqrt(4)
    a = torch.softmax(e, 1)
    out, w = f(xs, return_weights=True)
    torch.testing.assert_close(w, a)
    torch.testing.assert_close(out, (a.unsqueeze(-1) * x).sum(1))


def test_stream_bias_shifts_weight_to_that_stream():
    f = streamfuse.create_fusion("attention", [4, 4]).eval()
    xs = [torch.randn(5, 4), torch.randn(5, 4)]
    with torch.no_grad():
        f.stream_bias.copy_(torch.tensor([0.5, -0.5]))
    _, w = f(xs, return_weights=True)
    assert (w[:, 0] > 0.99).all()
