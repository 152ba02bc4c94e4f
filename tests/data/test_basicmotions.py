"""The vendored UEA BasicMotions data: streams, archive split, .ts loading, file checks."""

import numpy as np
import pytest
import torch

from streamfuse.data import DataError, load_data
from streamfuse.data.basicmotions import CLASSES, SHA256
from streamfuse.data.vendored import VENDORED_DIR, sha256_of

from .helpers import split_accuracy

VENDORED = VENDORED_DIR / "basicmotions.npz"


@pytest.fixture(scope="module")
def motions():
    return load_data("basicmotions")


def write_ts(path, data, split):
    """Write one split back in the archive's .ts format (float32 values printed exactly)."""
    s = getattr(data, split)
    x = torch.cat([s.streams["accelerometer"], s.streams["gyroscope"]], dim=1).numpy()
    lines = ["# written by the test", "@problemName BasicMotions", "@timeStamps false",
             "@missing false", "@univariate false", "@dimensions 6", "@equalLength true",
             "@seriesLength 100", "@classLabel true " + " ".join(CLASSES), "@data"]  # fmt: skip
    for series, label in zip(x, s.labels.tolist()):
        dims = [",".join(repr(float(v)) for v in dim) for dim in series]
        lines.append(":".join(dims) + ":" + CLASSES[label])
    path.write_text("\n".join(lines) + "\n")


def test_vendored_file_is_small_and_matches_recorded_checksum():
    assert VENDORED.stat().st_size < 500_000
    assert sha256_of(VENDORED) == SHA256
    assert "1811.00075" in (VENDORED_DIR / "LICENSES.txt").read_text()


def test_streams_classes_and_archive_split(motions):
    assert motions.stream_names == ["accelerometer", "gyroscope"]
    assert motions.kinds == {"accelerometer": "sequence", "gyroscope": "sequence"}
    assert motions.class_names == ["Badminton", "Running", "Standing", "Walking"]
    assert "arXiv:1811.00075" in motions.citation and "Clements" in motions.citation
    for split in (motions.train, motions.test):
        for x in split.streams.values():
            assert x.shape == (40, 3, 100) and x.dtype == torch.float32
        assert torch.bincount(split.labels, minlength=4).tolist() == [10] * 4
    assert torch.equal(load_data("basicmotions", seed=3).test.labels, motions.test.labels)


def test_gyroscope_dims_average_near_zero_within_a_clip(motions):
    # Rotation rates integrate to little over a clip, accelerations (with gravity/offset) do not.
    def median_clip_mean(x):
        return float(x.mean(dim=2).abs().median())

    gyro = median_clip_mean(motions.train.streams["gyroscope"])
    accel = median_clip_mean(motions.train.streams["accelerometer"])
    assert gyro < 0.2 < accel


def test_streams_carry_label_information(motions):
    assert split_accuracy(motions, "accelerometer") > 0.6  # chance 0.25
    dropped = load_data("basicmotions", drop="accelerometer")
    assert split_accuracy(dropped, "accelerometer") < split_accuracy(motions, "accelerometer") - 0.3
    assert torch.equal(dropped.train.streams["gyroscope"], motions.train.streams["gyroscope"])


def test_reading_ts_files_matches_the_vendored_copy(motions, tmp_path):
    write_ts(tmp_path / "BasicMotions_TRAIN.ts", motions, "train")
    write_ts(tmp_path / "BasicMotions_TEST.ts", motions, "test")
    from_ts = load_data("basicmotions", ts_dir=tmp_path)
    for split in ("train", "test"):
        a, b = getattr(motions, split), getattr(from_ts, split)
        assert torch.equal(a.labels, b.labels)
        assert all(torch.equal(a.streams[k], b.streams[k]) for k in a.streams)


def test_ts_dir_missing_file(tmp_path):
    with pytest.raises(DataError, match="BasicMotions_TRAIN.ts: file not found"):
        load_data("basicmotions", ts_dir=tmp_path)


def test_standardize_and_noise(motions):
    std = load_data("basicmotions", standardize=True)
    x = std.train.streams["gyroscope"]
    assert x.mean(dim=(0, 2)).abs().max() < 1e-4
    assert ((x.std(dim=(0, 2), unbiased=False) - 1).abs() < 1e-3).all()
    noisy = load_data("basicmotions", noise={"gyroscope": 1.0}, seed=4)
    again = load_data("basicmotions", noise="gyroscope=1", seed=4)
    assert torch.equal(noisy.train.streams["accelerometer"], motions.train.streams["accelerometer"])
    assert torch.equal(noisy.train.streams["gyroscope"], again.train.streams["gyroscope"])
    delta = noisy.train.streams["gyroscope"] - motions.train.streams["gyroscope"]
    ratio = delta.std(dim=(0, 2)) / motions.train.streams["gyroscope"].std(dim=(0, 2))
    assert torch.allclose(ratio, torch.ones(3), rtol=0.05)


def test_missing_corrupt_and_wrong_files(tmp_path):
    with pytest.raises(DataError, match="not found"):
        load_data("basicmotions", path=tmp_path / "nope.npz")
    corrupt = tmp_path / "basicmotions.npz"
    corrupt.write_bytes(VENDORED.read_bytes()[:-10] + b"0123456789")
    with pytest.raises(DataError, match="sha256"):
        load_data("basicmotions", path=corrupt)
    with pytest.raises(DataError, match="not a readable .npz"):
        load_data("basicmotions", path=corrupt, verify_checksum=False)
    wrong = tmp_path / "wrong.npz"
    np.savez(wrong, X_train=np.zeros((40, 5, 100), np.float32))
    with pytest.raises(DataError, match=r"'X_train' is float32 \(40, 5, 100\)"):
        load_data("basicmotions", path=wrong, verify_checksum=False)


def test_bad_knobs():
    with pytest.raises(DataError, match="accelerometer, gyroscope"):
        load_data("basicmotions", noise={"accel": 1.0})
    with pytest.raises(DataError, match="Did you mean 'standardize'"):
        load_data("basicmotions", standardise=True)
