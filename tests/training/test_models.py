"""Reference models: auxiliary per-stream heads (``aux_loss``) exist only when asked for."""

import pytest
import torch

from streamfuse import StreamFuseError
from streamfuse.training import build_model

from .test_loop import synthetic


def test_aux_heads_only_when_aux_loss_is_positive():
    streams, _, spec = synthetic(n=8)
    assert not hasattr(build_model(spec), "aux_heads")
    assert not hasattr(build_model(dict(spec, aux_loss=0.0)), "aux_heads")
    model = build_model(dict(spec, aux_loss=0.5)).eval()
    assert list(model.aux_heads) == ["a", "b", "c"]
    scores, aux = model(streams, return_aux=True)
    assert scores.shape == (8, 3) and {k: v.shape for k, v in aux.items()} == {s: (8, 3) for s in "abc"}
    torch.testing.assert_close(scores, model(streams), rtol=0, atol=0)  # the heads do not touch the fused scores
    scores2, weights, aux2 = model(streams, return_weights=True, return_aux=True)
    assert weights.shape == (8, 3) and torch.equal(scores2, scores) and torch.equal(aux2["b"], aux["b"])


def test_return_aux_without_heads_is_a_clear_error():
    streams, _, spec = synthetic(n=4)
    with pytest.raises(StreamFuseError, match="return_aux=True needs a model built with aux_loss > 0"):
        build_model(spec)(streams, return_aux=True)


@pytest.mark.parametrize("value", [-0.1, float("nan"), float("inf"), "1", True])
def test_bad_aux_loss_is_rejected(value):
    _, _, spec = synthetic(n=4)
    with pytest.raises(StreamFuseError, match="aux_loss must be a finite number >= 0"):
        build_model(dict(spec, aux_loss=value))


@pytest.mark.parametrize("method", ["late", "single:a"])
def test_baselines_take_no_aux_loss(method):
    _, _, spec = synthetic(n=4)
    build_model(dict(spec, method=method, aux_loss=0.0))
    with pytest.raises(StreamFuseError, match=f"baseline '{method}' is trained without it"):
        build_model(dict(spec, method=method, aux_loss=1.0))
