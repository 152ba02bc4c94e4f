import pytest
import torch

import streamfuse
from streamfuse import StreamFuseError


@pytest.mark.parametrize("mode", ["pooled", "tokens"])
def test_cls_attention_weights(mode):
    f = streamfuse.create_fusion("transformer", [3, 17, 5], mode=mode, dim=16).eval()
    xs = [torch.randn(4, c, 2, 3) for c in (3, 17, 5)]
    out, w = f(xs, return_weights=True)
    assert out.shape == (4, 16) and w.shape == (4, 3)
    torch.testing.assert_close(w.sum(1), torch.ones(4))
    # Asking for weights must not change the output.
    torch.testing.assert_close(f(xs), out)


def test_token_mode_needs_maps():
    f = streamfuse.create_fusion("transformer", [3, 17], mode="tokens")
    with pytest.raises(StreamFuseError, match="un-pooled feature map"):
        f([torch.randn(2, 3), torch.randn(2, 17)])


def test_default_dim_is_divisible_by_heads():
    f = streamfuse.create_fusion("transformer", [17, 3])
    assert f.dim == 20
    with pytest.raises(StreamFuseError, match="divisible by num_heads=4"):
        streamfuse.create_fusion("transformer", [17, 3], dim=18)
