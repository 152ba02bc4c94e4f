"""``train_model`` refuses bad settings and data before anything trains (``training/checks.py``)."""

from dataclasses import replace

import pytest
import torch

from streamfuse import StreamFuseError
from streamfuse.training import TrainConfig, train_model
from streamfuse.training.loop import stratified_split
from tests.training.test_loop import synthetic

CFG = TrainConfig(epochs=1, batch_size=16, width=8)


@pytest.mark.parametrize(
    "change, message",
    [
        ({"epochs": 0}, r"TrainConfig: option epochs=0 is not valid; expected an int >= 1"),
        ({"epochs": 1.5}, r"TrainConfig: option epochs=1.5 is not valid; expected an int >= 1"),
        ({"batch_size": 0}, r"option batch_size=0 is not valid; expected an int >= 1"),
        ({"batch_size": -4}, r"option batch_size=-4 is not valid"),
        ({"patience": -1}, r"option patience=-1 is not valid; expected an int >= 1"),
        ({"seed": 1.5}, r"option seed=1.5 is not valid; expected an int >= 0"),
        ({"lr": "x"}, r"option lr='x' is not valid; expected a finite number > 0"),
        ({"lr": float("nan")}, r"option lr=nan is not valid; expected a finite number > 0"),
        ({"weight_decay": -1.0}, r"option weight_decay=-1.0 is not valid; expected a finite number >= 0"),
        ({"val_fraction": 1.0}, r"option val_fraction=1.0 is not valid; expected a finite number >= 0 and < 1"),
        ({"val_fraction": -0.5}, r"option val_fraction=.* is not valid; expected a finite number >= 0 and < 1"),
        ({"val_fraction": float("nan")}, r"option val_fraction=.* is not valid; expected a finite number >= 0 and < 1"),
    ],
)  # fmt: skip
def test_bad_settings_are_named(change, message):
    streams, labels, spec = synthetic(30)
    with pytest.raises(StreamFuseError, match=message):
        train_model(spec, streams, labels, replace(CFG, **change))


def test_bad_data_is_named_by_stream():
    streams, labels, spec = synthetic(30)
    nan = dict(streams, a=streams["a"].clone())
    nan["a"][0, 0] = float("nan")
    cases = [
        (nan, labels, r"stream 'a': 1 NaN/Inf values in shape \(30, 6\)"),
        (dict(streams, b=streams["b"][:, :3]), labels, r"stream 'b': expected a tensor \(N, C, \.\.\.\) with N=30 .* C=4 .* got \(30, 3\)"),
        (dict(streams, c=streams["c"][:20]), labels, r"stream 'c': .* N=30 .* got \(20, 2, 12\)"),
        ({k: v for k, v in streams.items() if k != "b"}, labels, r"streams: no stream 'b'"),
        (streams, labels.float(), r"labels: expected an integer tensor \(N,\), got torch.float32"),
        (streams, labels.tolist(), r"labels: expected an integer tensor \(N,\), got list"),
        (streams, labels + 1, r"labels: values from 1 to 3; expected 0..2"),
        ({k: v[:0] for k, v in streams.items()}, labels[:0], r"labels: no samples"),
    ]
    for data, y, message in cases:
        with pytest.raises(StreamFuseError, match=message):
            train_model(spec, data, y, CFG)


def test_every_class_keeps_a_training_sample_whatever_the_fraction():
    labels = torch.tensor([0, 0, 1, 1, 1, 2, 2, 2, 2, 2])
    for fraction in (0.5, 0.75, 0.99):
        train, val = stratified_split(labels, fraction, seed=0)
        assert set(labels[train].tolist()) == {0, 1, 2} and set(labels[val].tolist()) == {0, 1, 2}
    train, val = stratified_split(labels, 0.2, seed=0)  # the usual fractions are unchanged
    assert len(val) == 1 + 1 + 1 and len(train) == 7
