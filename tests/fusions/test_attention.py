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


def test_query_scorer_is_the_default_and_hidden_needs_the_mlp_scorer():
    f = streamfuse.create_fusion("attention", [4, 6])
    assert f.scorer == "query" and not hasattr(f, "score")
    assert streamfuse.create_fusion("attention", [4, 6], scorer="mlp", hidden=3).score[0].out_features == 3
    with pytest.raises(streamfuse.StreamFuseError, match="hidden=3 .*scorer='mlp'"):
        streamfuse.create_fusion("attention", [4, 6], hidden=3)


@pytest.mark.parametrize("saved, built", [("mlp", "query"), ("query", "mlp")])
def test_state_dict_of_the_other_scorer_is_refused_with_the_fix(saved, built):
    state = streamfuse.create_fusion("attention", [4, 6], scorer=saved).state_dict()
    f = streamfuse.create_fusion("attention", [4, 6], scorer=built)
    with pytest.raises(streamfuse.StreamFuseError, match=f"saved with scorer='{saved}'.*create it with scorer='{saved}'"):
        f.load_state_dict(state)
    streamfuse.create_fusion("attention", [4, 6], scorer=saved).load_state_dict(state)  # the fix works
