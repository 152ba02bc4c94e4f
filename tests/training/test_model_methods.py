"""Model-level methods: one ``MODEL_LEVEL`` entry is all the bench, the checks, ``build_model`` and
the training loop need (a toy method registered here flows through all of them)."""

import pytest

from streamfuse import StreamFuseError
from streamfuse.bench.presets import check_fusions
from streamfuse.bench.runner import check_fusion_options, method_list, parse_methods
from streamfuse.training import MultiStreamNet, TrainConfig, build_model, train_model
from streamfuse.training.model_methods import MODEL_LEVEL, register_model_method

from .test_loop import synthetic


def _build_toy(spec, common):
    # mean fusion as a network of its own; recipes' per-stream heads come from spec["stream_heads"]
    return MultiStreamNet(spec["streams"], method="mean", fusion_options=spec.get("fusion_options"),
                          stream_heads=bool(spec.get("stream_heads")), **common)


@pytest.fixture
def toy():
    register_model_method("toy", kind="toy model", options={"stream_dropout": 0.0}, own_stream_scores=False,
                          min_streams=2, max_streams=3)(_build_toy)
    yield MODEL_LEVEL["toy"]
    del MODEL_LEVEL["toy"]


def test_a_registered_model_method_is_listed_and_checked_like_a_fusion(toy):
    assert parse_methods("toy", 3) == ["toy"]
    assert "toy" in parse_methods("all", 2) and "toy" not in parse_methods("all", 4)
    with pytest.raises(StreamFuseError, match="fusion 'toy' takes 2..3 streams; this data has 4"):
        parse_methods("attention,toy", 4)
    # it takes stream_dropout, so it gets a "+sd" variant; late_learned takes no options, so none
    assert method_list(["toy", "late_learned"], ["a", "b"], False, 0.2) == ["toy", "late_learned", "toy+sd"]
    check_fusion_options(["toy"], {"stream_dropout": 0.1})
    with pytest.raises(StreamFuseError, match="'stream_norm' is not an option of 'toy'"):
        check_fusion_options(["toy", "attention"], {"stream_norm": True})
    with pytest.raises(StreamFuseError, match=r"stream_dropout=true for 'toy': expected a number"):
        check_fusion_options(["toy"], {"stream_dropout": True})


def test_check_fusions_builds_a_model_method_whole(toy):
    check_fusions(["toy"], TrainConfig(width=8), 0.2)
    with pytest.raises(StreamFuseError, match="'toy' is a toy model: its fusion options are stream_dropout; got num_heads"):
        check_fusions(["toy"], TrainConfig(width=8, fusion_options={"num_heads": 2}))
    # a value only its builder can judge is still refused before any data is loaded
    with pytest.raises(StreamFuseError, match=r"fusion 'toy' with options \{\"stream_dropout\": 1.5\}"):
        check_fusions(["toy"], TrainConfig(width=8), 1.5)


def test_build_model_and_training_use_the_entry(toy):
    streams, y, spec = synthetic(n=48)
    spec = dict(spec, method="toy", fusion_options={"stream_dropout": 0.1})
    model = build_model(spec)
    assert isinstance(model, MultiStreamNet) and model.head.fusion.stream_dropout == 0.1
    assert not hasattr(model, "aux_heads")
    with pytest.raises(StreamFuseError, match="the toy model 'toy' is trained without it"):
        build_model(dict(spec, aux_loss=0.5))
    with pytest.raises(StreamFuseError, match=r"'toy' has no fusion option\(s\) \['num_heads'\]"):
        build_model(dict(spec, fusion_options={"num_heads": 2}))
    # own_stream_scores=False: a recipe's per-stream heads are built for training, then dropped
    trained, info = train_model(spec, streams, y, TrainConfig(epochs=2, batch_size=16, width=16, balance="gblend"))
    assert len(info["balance"]["blend_weights"][-1]) == 4 and not hasattr(trained, "aux_heads")
