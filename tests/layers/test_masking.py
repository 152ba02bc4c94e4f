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
