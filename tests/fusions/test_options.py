"""Declared options: what each method lists is what it takes, and every bad value is refused
with a StreamFuseError naming the option, the value and the valid range."""

import inspect
import math

import pytest
import torch
from torch import nn

import streamfuse
from streamfuse import StreamFuseError
from streamfuse.options import BASE_OPTIONS

from ..conftest import ALL_FUSIONS, fit_dims


def _own_keywords(cls) -> dict:
    """Keyword parameters of the class's own ``__init__`` (besides in_dims, dim and **base)."""
    params = inspect.signature(cls.__init__).parameters.values()
    return {p.name: p.default for p in params if p.kind is p.KEYWORD_ONLY}


@pytest.mark.parametrize("name", ALL_FUSIONS)
def test_declaration_matches_the_constructor(name):
    cls = streamfuse.FUSIONS[name]
    declared = {k: spec.default for k, spec in cls.options.items()}
    assert declared == _own_keywords(cls), "options must list exactly the constructor's keywords, same defaults"
    assert streamfuse.fusion_options(name) == [*cls.options, *BASE_OPTIONS]
    assert streamfuse.fusion_option_defaults(name) == {**declared, **{k: s.default for k, s in BASE_OPTIONS.items()}}


def test_convex_does_not_offer_the_normalize_it_fixes():
    assert "normalize" not in streamfuse.fusion_options("convex")
    assert "normalize" in streamfuse.fusion_options("scalar")
    with pytest.raises(StreamFuseError, match=r"fusion 'convex' has no option 'normalize'"):
        streamfuse.create_fusion("convex", [3, 17], normalize="sigmoid")


# The values the issue reported as silently accepted or crashing, each with the method it used.
REPORTED = [
    ("scalar", "stream_dropout", "a"),
    ("adaptive", "hidden", -4),
    ("attention", "hidden", -4),
    ("cross_attention", "num_heads", 0),
    ("transformer", "num_heads", 0),
    ("cross_attention", "dropout", 1.5),
    ("transformer", "dropout", 1.5),
    ("transformer", "depth", 0),
    ("scalar", "logit_scale", float("nan")),
    ("attention", "check_finite", "no"),
]


@pytest.mark.parametrize("name,option,value", REPORTED, ids=lambda v: str(v))
def test_reported_bad_values(name, option, value):
    with pytest.raises(StreamFuseError, match=rf"{name}: option {option}={value!r} is not valid; expected "):
        streamfuse.create_fusion(name, [8, 8], **{option: value})


def _bad_values(spec) -> list:
    if spec.kind == "int":
        return [spec.low - 1, 2.5, "3", True]
    if spec.kind == "float":
        bad = ["0.5", float("nan"), float("inf"), True]
        if spec.low is not None:
            bad.append(spec.low - 0.5 if not spec.low_open else spec.low)
        if spec.high is not None:
            bad.append(spec.high + 0.5 if not spec.high_open else spec.high)
        return bad
    if spec.kind == "bool":
        return ["no", 1]
    if spec.kind == "choice":
        return ["bogus", 1]
    if spec.kind == "module_class":
        return [nn.GELU(), "gelu", int]
    if spec.kind == "dtype":
        return [torch.int64, "float32"]
    return []


def _every_bad_value():
    for name in ALL_FUSIONS:
        for option, spec in streamfuse.FUSIONS[name].option_specs().items():
            for value in _bad_values(spec):
                yield name, option, value


@pytest.mark.parametrize("name,option,value", list(_every_bad_value()), ids=lambda v: str(v))
def test_every_declared_option_refuses_bad_values(name, option, value):
    spec = streamfuse.FUSIONS[name].option_specs()[option]
    with pytest.raises(StreamFuseError) as err:
        streamfuse.create_fusion(name, fit_dims(name, [8, 8]), **{option: value})
    msg = str(err.value)
    assert f"option {option}=" in msg and spec.valid_range() in msg, msg


def test_valid_range_in_words():
    specs = streamfuse.fusion_option_specs("transformer")
    assert specs["dropout"].valid_range() == "a finite number >= 0 and < 1"
    assert specs["depth"].valid_range() == "an int >= 1"
    assert specs["mode"].valid_range() == "one of pooled, tokens"
    assert streamfuse.fusion_option_specs("attention")["hidden"].valid_range() == "an int >= 1 or None"


def test_numbers_are_normalised():
    f = streamfuse.create_fusion("scalar", [8, 8], logit_scale=5, stream_dropout=0)
    assert f.logit_scale == 5.0 and isinstance(f.logit_scale, float) and isinstance(f.stream_dropout, float)
    assert math.isclose(streamfuse.create_fusion("transformer", [8, 8], mlp_ratio=1).layers[0].linear1.out_features, 8)


def test_head_options_checked():
    with pytest.raises(StreamFuseError, match=r"MultiStreamHead: option dropout=1.5 is not valid; expected a finite number >= 0 and < 1"):
        streamfuse.MultiStreamHead([3, 17], 4, dropout=1.5)
    with pytest.raises(StreamFuseError, match=r"option num_classes=2.0 is not valid"):
        streamfuse.MultiStreamHead([3, 17], 2.0)


def test_duplicate_stream_names_after_str_refused():
    with pytest.raises(StreamFuseError, match=r"stream names must be distinct as strings; \['1'\] occur more than once"):
        streamfuse.create_fusion("sum", {1: 3, "1": 17})


def test_check_fusion_option_without_building():
    assert streamfuse.check_fusion_option("transformer", "depth", 3) == 3
    assert streamfuse.check_fusion_option("scalar", "logit_scale", 5) == 5.0
    with pytest.raises(StreamFuseError, match=r"transformer: option num_heads=0 is not valid; expected an int >= 1"):
        streamfuse.check_fusion_option("transformer", "num_heads", 0)
    with pytest.raises(StreamFuseError, match=r"fusion 'convex' has no option 'normalize'"):
        streamfuse.check_fusion_option("convex", "normalize", "sigmoid")
