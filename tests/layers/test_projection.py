"""StreamProjection: the stacked and the list layouts compute the same projected streams."""

import pytest
import torch

from streamfuse.layers.projection import StreamProjection


@pytest.mark.parametrize(
    "in_dims, project, mlp, norm, batched",
    [
        ([5, 3, 4], True, False, True, False),  # one nn.Linear per width
        ([5, 3, 4], True, True, False, True),  # MLP: second layer batched
        ([6, 6], True, False, True, True),  # equal widths: one StreamLinear
        ([6, 6], False, False, True, False),  # normalise only
        ([6, 6], False, False, False, False),  # identity
    ],
)
def test_project_each_matches_the_stacked_forward(in_dims, project, mlp, norm, batched):
    torch.manual_seed(0)
    proj = StreamProjection(in_dims, 6, project=project, mlp=mlp, norm=norm)
    xs = [torch.randn(7, c) * 3 + 1 for c in in_dims]
    assert proj.batched is batched
    stacked = proj(xs)
    each = proj.project_each(xs)
    assert stacked.shape == (7, len(in_dims), 6) and len(each) == len(in_dims)
    for i, x in enumerate(each):
        torch.testing.assert_close(x, stacked[:, i])
    if norm:  # non-affine LayerNorm: every projected stream has zero mean and unit variance per sample
        torch.testing.assert_close(stacked.mean(-1), torch.zeros(7, len(in_dims)), atol=1e-5, rtol=0)
    if not project and not norm:
        assert all(a is b for a, b in zip(each, xs))
