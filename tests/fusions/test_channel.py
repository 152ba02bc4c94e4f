import torch

import streamfuse


def test_channel_weights_per_stream_and_channel():
    f = streamfuse.create_fusion("channel", [3, 3], project=False, stream_norm=False, logit_scale=1.0)
    with torch.no_grad():
        f.theta.copy_(torch.tensor([[0.0, 1.0, -2.0], [0.5, 0.0, 0.0]]))
    x1, x2 = torch.randn(4, 3), torch.randn(4, 3)
    w = torch.softmax(f.theta.detach(), dim=0)  # across streams, per channel
    out, weights = f([x1, x2], return_weights=True)
    torch.testing.assert_close(out, w[0] * x1 + w[1] * x2)
    assert weights.shape == (4, 2, 3)
    torch.testing.assert_close(weights[2], w)
