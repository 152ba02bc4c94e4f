"""The text forms of the per-stream knobs, shared by the loaders and the CLI."""

import pytest

from streamfuse.data import DataError
from streamfuse.data.knobs import parse_levels, split_items, split_pairs
from streamfuse.errors import StreamFuseError


def test_split_pairs_strips_skips_empty_items_and_keeps_values_as_text():
    assert split_pairs(" rgb = 0.5, pose=0,, ", "--noise-streams") == {"rgb": "0.5", "pose": "0"}
    assert split_pairs("a=b=c", "x") == {"a": "b=c"}  # split at the first "="
    assert split_items(" rgb, ,pose,") == ["rgb", "pose"]


@pytest.mark.parametrize("text, message", [
    ("rgb", "--occlusion: expected STREAM=VALUE pairs like 'rgb=0.5', got 'rgb'"),
    (" =1", "--occlusion: expected STREAM=VALUE pairs like 'rgb=0.5', got '=1'"),
    ("rgb=1,rgb =2", "--occlusion: stream 'rgb' is given twice; give each stream once"),
])
def test_split_pairs_names_the_knob_and_the_bad_item(text, message):
    with pytest.raises(StreamFuseError) as info:
        split_pairs(text, "--occlusion")
    assert str(info.value) == message


def test_parse_levels_reports_with_the_loaders_error_and_streams():
    assert parse_levels("rgb=0.5, pose=0", ["pose", "rgb"], "noise") == {"rgb": 0.5, "pose": 0.0}
    with pytest.raises(DataError, match=r"noise='pose': expected STREAM=VALUE pairs like 'pose=0.5' \(streams: pose, rgb\)"):
        parse_levels("pose", ["pose", "rgb"], "noise")
