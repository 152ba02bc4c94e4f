import torch

import streamfuse


def test_selective_matches_squeeze_excite_select():
    f = streamfuse.create_fusion("selective", [4, 4, 4], project=False, stream_norm=False, reduction=1).eval()
    xs = [torch.randn(3, 4) for _ in range(3)]
    x = torch.stack(xs, 1)
    a = torch.softmax(f.select(f.squeeze(x.sum(1))).view(3, 3, 4), dim=1)
    out, w = f(xs, return_weights=True)
    torch.testing.assert_close(out, (a * x).sum(1))
    torch.testing.assert_close(w, a)
