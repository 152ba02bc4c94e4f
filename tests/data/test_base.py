"""The containers, the error type and the load_data entry point."""

import pytest
import torch

from streamfuse.data import DataError, MultiStreamData, Split, list_datasets, load_data
from streamfuse.errors import StreamFuseError


def split(n=4, **streams):
    streams = streams or {"a": torch.zeros(n, 2)}
    return Split(streams, torch.arange(n) % 2)


def data(**overrides):
    fields = dict(name="toy", stream_names=["a"], kinds={"a": "vector"}, num_classes=2,
                  class_names=["x", "y"], train=split(), test=split(), citation="")  # fmt: skip
    return MultiStreamData(**{**fields, **overrides})


def test_list_and_error_type():
    assert list_datasets() == ["video", "mfeat", "basicmotions"]
    assert issubclass(DataError, StreamFuseError) and issubclass(DataError, ValueError)
    with pytest.raises(DataError, match="Did you mean 'mfeat'"):
        load_data("mfaet")
    with pytest.raises(DataError, match="expected a name"):
        load_data(42)
    with pytest.raises(DataError, match="seed=-1; expected an integer >= 0"):
        load_data("mfeat", seed=-1)


def test_split_checks_dtypes_and_sizes():
    assert len(split()) == 4 and "a=(4, 2)" in repr(split())
    with pytest.raises(DataError, match="labels must be an int64"):
        Split({"a": torch.zeros(4, 2)}, torch.zeros(4))
    with pytest.raises(DataError, match="stream 'a' must be a float32"):
        Split({"a": torch.zeros(4, 2, dtype=torch.float64)}, torch.arange(4))
    with pytest.raises(DataError, match=r"stream 'a' has shape \(3, 2\); expected \(N=4"):
        Split({"a": torch.zeros(3, 2)}, torch.arange(4))


def test_dataset_checks_consistency():
    assert "toy" in repr(data()) and "a:vector(2,)" in repr(data())
    with pytest.raises(DataError, match="do not match stream_names"):
        data(stream_names=["b"])
    with pytest.raises(DataError, match="labels span 0..1; expected 0..0"):
        data(num_classes=1, class_names=["x"])
    with pytest.raises(DataError, match="2 class_names for num_classes=3"):
        data(num_classes=3)
    with pytest.raises(DataError, match="kind 'sequence' has rank 2"):
        data(kinds={"a": "sequence"})
    with pytest.raises(DataError, match="kind 'audio'"):
        data(kinds={"a": "audio"})
    with pytest.raises(DataError, match=r"\(2,\) in train but \(3,\) in test"):
        data(test=split(a=torch.zeros(4, 3)))
