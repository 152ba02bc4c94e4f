import torch

from streamfuse.layers import masked_softmax, stream_dropout_mask


def test_stream_dropout_never_empties_a_row_and_respects_mask():
    torch.manual_seed(0)
    present = torch.rand(2000, 4) > 0.5
    present[:, 0] |= ~present.any(1)  # every row has at least one stream
    keep = stream_dropout_mask(present, 2000, 4, p=0.95, device=torch.device("cpu"))
    assert keep.any(1).all()
    assert not (keep & ~present).any(), "dropout must not resurrect an absent stream"
    # With p = 0.95 almost every row would be emptied: the rescue picks uniformly among present.
    only = present.all(1) & (keep.sum(1) == 1)
    counts = keep[only].float().sum(0)
    assert counts.min() > 0.15 * counts.sum()


def test_stream_dropout_rate():
    torch.manual_seed(1)
    keep = stream_dropout_mask(None, 20000, 8, p=0.25, device=torch.device("cpu"))
    assert abs(keep.float().mean().item() - 0.75) < 0.01


def test_masked_softmax_zero_and_renormalised():
    logits = torch.tensor([[1.0, 2.0, 3.0]])
    w = masked_softmax(logits, torch.tensor([[True, False, True]]))
    torch.testing.assert_close(w, torch.tensor([[torch.sigmoid(torch.tensor(-2.0)).item(), 0.0, torch.sigmoid(torch.tensor(2.0)).item()]]))


def test_convex_pair_is_the_two_stream_weighted_sum_values_and_gradients():
    from streamfuse.layers import convex_pair, weighted_sum_list

    torch.manual_seed(0)
    for w_shape in [(), (7,)]:  # a stream weight, a per-channel weight
        x1, x2 = (torch.randn(4, 7, dtype=torch.float64, requires_grad=True) for _ in range(2))
        w1 = torch.rand(w_shape, dtype=torch.float64, requires_grad=True)
        got = convex_pair(x1, x2, w1)
        want = weighted_sum_list([x1, x2], [w1, 1 - w1])
        torch.testing.assert_close(got, want)
        g = torch.randn(4, 7, dtype=torch.float64)
        torch.testing.assert_close(torch.autograd.grad(got, (x1, x2, w1), g), torch.autograd.grad(want, (x1, x2, w1), g))
    # the end points are exact: all the weight on one stream gives that stream bit for bit
    x1, x2 = torch.randn(3, 5), torch.randn(3, 5)
    assert torch.equal(convex_pair(x1, x2, torch.tensor(1.0)), x1)
    assert torch.equal(convex_pair(x1, x2, torch.tensor(0.0)), x2)
    # a float32 weight on bfloat16 streams is cast (lerp needs one dtype)
    out = convex_pair(x1.bfloat16(), x2.bfloat16(), torch.tensor(0.25))
    assert out.dtype == torch.bfloat16
    torch.testing.assert_close(out.float(), 0.25 * x1 + 0.75 * x2, atol=0.05, rtol=0.02)
