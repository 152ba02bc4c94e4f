import torch

import streamfuse


def test_concat_is_linear_of_concatenation():
    f = streamfuse.create_fusion("concat", [3, 17], dim=5)
    x1, x2 = torch.randn(4, 3), torch.randn(4, 17)
    out, w = f([x1, x2], return_weights=True)
    assert w is None
    torch.testing.assert_close(out, torch.cat([x1, x2], 1) @ f.proj.weight.T + f.proj.bias)


def test_sum_and_mean_over_present_streams():
    xs = [torch.randn(3, 4) for _ in range(3)]
    mask = torch.tensor([[1, 1, 1], [1, 0, 1], [0, 0, 1]], dtype=torch.bool)
    s = streamfuse.create_fusion("sum", [4, 4, 4], project=False, stream_norm=False)
    m = streamfuse.create_fusion("mean", [4, 4, 4], project=False, stream_norm=False)
    x = torch.stack(xs, 1) * mask.unsqueeze(-1)
    torch.testing.assert_close(s(xs, mask=mask), x.sum(1))
    torch.testing.assert_close(m(xs, mask=mask), x.sum(1) / mask.sum(1, keepdim=True))


def test_maps_are_average_pooled_by_vector_methods():
    f = streamfuse.create_fusion("sum", [4, 4], project=False, stream_norm=False)
    a, b = torch.randn(2, 4, 3, 5), torch.randn(2, 4, 7)
    torch.testing.assert_close(f([a, b]), a.mean((2, 3)) + b.mean(2))
