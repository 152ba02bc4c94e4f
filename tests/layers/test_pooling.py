"""Global pooling: one function for the head and the reference networks' stream classifiers."""

import pytest
import torch

from streamfuse import MultiStreamHead, StreamFuseError
from streamfuse.layers import GlobalPool, global_pool
from streamfuse.training.models import LateFusionNet, stream_classifier


def test_global_pool_averages_or_takes_the_maximum_over_every_position():
    x = torch.arange(2 * 3 * 2 * 2, dtype=torch.float32).reshape(2, 3, 2, 2)  # (N, C, H, W)
    assert torch.equal(global_pool(x), x.reshape(2, 3, 4).mean(-1))
    assert torch.equal(global_pool(x, "max"), x[:, :, 1, 1])  # values grow along every axis
    v = torch.randn(4, 5)
    assert global_pool(v, "max") is v  # no spatial axis: nothing to pool
    assert "pool='max'" in repr(GlobalPool("max"))


def test_the_head_and_the_stream_classifiers_pool_alike():
    torch.manual_seed(0)
    x = torch.randn(3, 4, 5, 6)
    head = MultiStreamHead([4], 2, fusion="concat", pool="max")
    assert torch.equal(head.pool_stream(x), global_pool(x, "max"))
    classifier = stream_classifier(4, 2, "max", 0.0)
    fc = classifier[-1]
    torch.testing.assert_close(classifier(x), fc(x.flatten(2).amax(-1)))


def test_an_unknown_pool_is_refused_by_name():
    with pytest.raises(StreamFuseError, match="unknown pool 'mean'.*Valid choices: avg, max"):
        global_pool(torch.zeros(1, 2, 3), "mean")
    with pytest.raises(StreamFuseError, match="unknown pool 'mean'"):  # was: silently max-pooled
        LateFusionNet(["a"], {"a": "vector"}, {"a": 3}, 2, pool="mean")
