"""Leaving out a stream that shows no information alone: the model's masking, the validation
evidence against a hand computation, and the warm-start decision in training."""

import math

import pytest
import torch
import torch.nn.functional as F

import streamfuse
from streamfuse import StreamFuseError
from streamfuse.training import TrainConfig, build_model, train_model
from streamfuse.training.loop import LEAVE_OUT_T, accuracy_threshold, stratified_split, streams_to_leave_out, validation_evidence

from .test_loop import synthetic


@pytest.mark.parametrize("method", ["attention", "scalar", "channel", "adaptive", "late_learned"])
def test_a_left_out_stream_is_absent_from_every_sample(method):
    streams, _, spec = synthetic(n=12)
    model = build_model(dict(spec, method=method)).eval()
    mask = torch.tensor([[True, False, True]]).expand(12, -1)
    with torch.no_grad():
        expected, w_expected = model(streams, mask=mask, return_weights=True)
        model.leave_out(["b"])
        out, w = model(streams, return_weights=True)
        noisy = dict(streams, b=torch.randn_like(streams["b"]) * 100)
        assert torch.equal(model(noisy), out)  # what b holds cannot change the output
    torch.testing.assert_close(out, expected)
    torch.testing.assert_close(w, w_expected)
    assert (w[:, 1] == 0).all() and model.left_out == ["b"]


@pytest.mark.parametrize("method", [m for m in streamfuse.list_fusions() if streamfuse.FUSIONS[m].max_streams is None])
def test_rows_whose_present_streams_are_all_left_out_get_uniform_scores_and_zero_weights(method):
    """Every method, whatever its weights: (N, S), (N, S, D), or none (concat, lowrank: None
    stays None; a crash here once stopped `streamfuse bench --epochs 2` at concat)."""
    streams, _, spec = synthetic(n=4)
    model = build_model(dict(spec, method=method)).eval()
    model.leave_out(["b", "c"])
    mask = torch.tensor([[True, True, True], [False, True, True], [False, True, False], [True, False, False]])
    with torch.no_grad():
        out, w = model(streams, mask=mask, return_weights=True)
        ref = model(streams)
    assert (out[1:3] == 0).all()
    assert (w is None) == (streamfuse.FUSIONS[method].weight_level is None) and (w is None or (w[1:3] == 0).all())
    torch.testing.assert_close(out[[0, 3]], ref[[0, 3]])
    with pytest.raises(StreamFuseError, match="no present stream"):  # a caller's empty row stays an error
        model(streams, mask=torch.tensor([[False, False, False]] + [[True] * 3] * 3))


def test_left_out_streams_travel_in_the_state_dict_and_old_state_dicts_keep_every_stream():
    _, _, spec = synthetic(n=4)
    model = build_model(spec)
    model.leave_out(["c"])
    state = model.state_dict()
    fresh = build_model(spec)
    fresh.load_state_dict(state)
    assert fresh.left_out == ["c"]
    old = {k: v for k, v in state.items() if not k.endswith("stream_kept")}
    fresh.load_state_dict(old)
    assert fresh.left_out == []


@pytest.mark.parametrize("streams", [["x"], ["a", "b", "c"], ["a", "a", "b", "c"]])
def test_leave_out_refuses_unknown_streams_and_all_streams(streams):
    _, _, spec = synthetic(n=4)
    with pytest.raises(StreamFuseError, match="proper subset"):
        build_model(spec).leave_out(streams)


class _Fixed(torch.nn.Module):
    """Scores given per sample, whatever the streams hold."""

    def __init__(self, scores):
        super().__init__()
        self.scores = scores
        self.p = torch.nn.Parameter(torch.zeros(1))

    def forward(self, streams, mask=None):
        return self.scores[streams["i"].long().flatten()]


def test_validation_evidence_against_a_hand_computation():
    n, k = 60, 3
    labels = torch.arange(n) % k
    labels[:6] = 0  # an unbalanced prior: 24 / 18 / 18
    scores = torch.randn(n, k, generator=torch.Generator().manual_seed(0))
    cfg = TrainConfig(val_fraction=0.5, seed=0)
    ev = validation_evidence(_Fixed(scores), {"i": torch.arange(n).float().unsqueeze(1)}, labels, cfg)
    tr, va = stratified_split(labels, 0.5, 0)
    counts = torch.bincount(labels[tr], minlength=k).double()
    log_prior = torch.log((counts + 1) / (len(tr) + k))
    gain = [float(torch.log_softmax(scores[i].double(), 0)[labels[i]] - log_prior[labels[i]]) for i in va.tolist()]
    mean = sum(gain) / len(gain)
    sd = math.sqrt(sum((g - mean) ** 2 for g in gain) / (len(gain) - 1))
    assert ev["n"] == len(va) == 30
    assert ev["gain"] == pytest.approx(mean, rel=1e-9)
    assert ev["t"] == pytest.approx(mean / (sd / math.sqrt(len(gain))), rel=1e-9)
    # accuracy against the prior's, which always predicts class 0 (the most frequent in training)
    hits = sum(int(scores[i].argmax()) == int(labels[i]) for i in va.tolist())
    p0 = sum(int(labels[i]) == 0 for i in va.tolist()) / 30
    assert 0 < p0 < 1 and ev["accuracy"] == pytest.approx(hits / 30) and ev["prior_accuracy"] == pytest.approx(p0)
    assert ev["z"] == pytest.approx((hits / 30 - p0) / math.sqrt(p0 * (1 - p0) / 30), rel=1e-9)
    assert ev["looks"] == 1 and validation_evidence(_Fixed(scores), {"i": torch.arange(n).float().unsqueeze(1)}, labels, cfg, looks=7)["looks"] == 7
    perfect = F.one_hot(labels, k).double() * 20
    assert validation_evidence(_Fixed(perfect), {"i": torch.arange(n).float().unsqueeze(1)}, labels, cfg)["t"] > LEAVE_OUT_T


def test_which_streams_are_left_out():
    ev = {"a": {"t": 5.0}, "b": {"t": 1.0}, "c": {"t": -3.0}}
    assert streams_to_leave_out(ev) == ["b", "c"]
    # either statistic keeps a stream: an overconfident weak model (low t) with a clear accuracy lead (z)
    ev = {"a": {"t": 5.0, "z": 6.0, "looks": 15}, "b": {"t": 0.97, "z": 3.6, "looks": 15}, "c": {"t": -1.3, "z": 1.4, "looks": 15}}
    assert streams_to_leave_out(ev) == ["c"]
    # the accuracy bar rises with the epochs the model was chosen among (the best of 15 draws)
    assert accuracy_threshold(1) == pytest.approx(LEAVE_OUT_T) and accuracy_threshold(15) == pytest.approx(2.935, abs=1e-3)
    noise = {"t": -0.35, "z": 2.14}  # a noise stream whose best epoch hit 15 of 72 (seed 4 of --drop pose)
    assert streams_to_leave_out({"a": {"t": 3.3, "z": 5.3, "looks": 15}, "b": dict(noise, looks=15)}) == ["b"]
    assert streams_to_leave_out({"a": {"t": 3.3, "z": 5.3, "looks": 1}, "b": dict(noise, looks=1)}) == []
    assert streams_to_leave_out({"a": {"t": LEAVE_OUT_T - 0.01, "z": None}, "b": {"t": -1.0, "z": 0.0}}) == ["b"]
    assert streams_to_leave_out({"a": {"t": 1.0}, "b": {"t": -2.0}}) == ["b"]  # the strongest stays
    assert streams_to_leave_out({"a": {"t": -1.0}, "b": {"t": 0.5}, "c": {"t": 0.2}}) == ["a", "c"]
    assert streams_to_leave_out({"a": {"t": 5.0}, "b": {"t": None}}) == []  # too few samples to tell
    assert streams_to_leave_out({}) == []


def test_warm_start_leaves_out_the_noise_streams_and_keep_streams_keeps_them():
    streams, y, spec = synthetic(n=210)  # 30 validation samples; only 'a' carries the label
    cfg = TrainConfig(epochs=4, batch_size=32, seed=0, width=16, balance="warmstart")
    model, info = train_model(spec, streams, y, cfg)
    assert info["stream_evidence"]["a"]["t"] > LEAVE_OUT_T
    assert "a" not in info["left_out"] and info["left_out"] == model.left_out
    ev = info["stream_evidence"]
    assert all(e["looks"] == 4 for e in ev.values())  # the singles ran 4 epochs: chosen among 4
    short = {s for s in ("b", "c") if ev[s]["t"] < LEAVE_OUT_T and ev[s]["z"] < accuracy_threshold(4)}
    assert set(info["left_out"]) == short
    assert info["left_out"], info["stream_evidence"]  # pure noise here: at least one shows nothing
    kept, info_kept = train_model(spec, streams, y, TrainConfig(**dict(cfg.to_dict(), keep_streams=True)))
    assert info_kept["left_out"] == [] and kept.left_out == []
    _, plain = train_model(spec, streams, y, TrainConfig(**dict(cfg.to_dict(), balance="none")))
    assert plain["left_out"] == [] and plain["stream_evidence"] == {}


@pytest.mark.parametrize("value", ["False", 1, None])
def test_keep_streams_must_be_a_bool(value):
    streams, y, spec = synthetic(n=12)
    with pytest.raises(StreamFuseError, match="keep_streams must be True or False"):
        train_model(spec, streams, y, TrainConfig(epochs=1, keep_streams=value))


def test_warm_start_without_a_validation_split_keeps_every_stream():
    streams, y, spec = synthetic(n=48)
    _, info = train_model(spec, streams, y, TrainConfig(epochs=1, batch_size=16, width=16, val_fraction=0.0, balance="warmstart"))
    assert info["left_out"] == [] and all(e["t"] is None and e["z"] is None and e["n"] == 0 for e in info["stream_evidence"].values())
