"""The vendored UCI Multiple Features data: content, fixed split, standardisation, file checks."""

import shutil

import numpy as np
import pytest
import torch

from streamfuse.data import DataError, load_data
from streamfuse.data.mfeat import SHA256, VIEWS, WIDTHS
from streamfuse.data.vendored import VENDORED_DIR, read_npz, sha256_of

from .helpers import split_accuracy

VENDORED = VENDORED_DIR / "mfeat.npz"


@pytest.fixture(scope="module")
def mfeat():
    return load_data("mfeat")


@pytest.fixture(scope="module")
def raw():
    return load_data("mfeat", standardize=False)


def test_vendored_file_is_small_and_matches_recorded_checksum():
    assert VENDORED.stat().st_size < 4_000_000
    assert sha256_of(VENDORED) == SHA256
    assert "C5HC70" in (VENDORED_DIR / "LICENSES.txt").read_text()


def test_streams_shapes_and_stratified_half_split(mfeat):
    assert mfeat.stream_names == VIEWS == ["fou", "fac", "kar", "pix", "zer", "mor"]
    assert set(mfeat.kinds.values()) == {"vector"}
    assert mfeat.num_classes == 10 and mfeat.class_names == [str(d) for d in range(10)]
    assert "10.24432/C5HC70" in mfeat.citation
    for split in (mfeat.train, mfeat.test):
        assert [split.streams[v].shape for v in VIEWS] == [(1000, WIDTHS[v]) for v in VIEWS]
        assert all(x.dtype == torch.float32 for x in split.streams.values())
        assert torch.bincount(split.labels, minlength=10).tolist() == [100] * 10


def test_split_is_the_whole_data_and_fixed_across_seeds(raw):
    stored = read_npz(VENDORED)
    for v in VIEWS:
        both = torch.cat([raw.train.streams[v], raw.test.streams[v]]).numpy()
        assert np.array_equal(np.sort(both, axis=0), np.sort(stored[v], axis=0))
    other = load_data("mfeat", seed=7, standardize=False)
    assert all(torch.equal(raw.test.streams[v], other.test.streams[v]) for v in VIEWS)


def test_raw_values_are_the_uci_features(raw):
    # First row of UCI mfeat-mor (a zero): 1 0 0 133.15 1.3117 1620.2
    rows = torch.cat([raw.train.streams["mor"], raw.test.streams["mor"]])
    first = torch.tensor([1, 0, 0, 133.15, 1.3117, 1620.2])
    assert torch.isclose(rows, first, rtol=1e-6).all(dim=1).any()
    pix = raw.train.streams["pix"]
    assert torch.equal(pix, pix.round()) and pix.min() == 0 and pix.max() == 6


def test_standardize_uses_train_statistics(mfeat):
    for v in VIEWS:
        x = mfeat.train.streams[v]
        assert x.mean(0).abs().max() < 1e-4
        std = x.std(0, unbiased=False)
        assert ((std - 1).abs() < 1e-3).all()
    # test statistics are not used, so the test split is close to but not exactly standard
    assert 0 < mfeat.test.streams["fou"].mean(0).abs().max() < 0.5


def test_views_carry_label_information_and_noise_removes_it(mfeat):
    clean = split_accuracy(mfeat, "pix")
    assert clean > 0.8  # chance 0.1
    noisy = load_data("mfeat", noise={"pix": 3.0})
    assert split_accuracy(noisy, "pix") < clean - 0.1
    assert torch.equal(noisy.train.streams["fac"], mfeat.train.streams["fac"])
    delta = noisy.train.streams["pix"] - mfeat.train.streams["pix"]
    assert abs(float(delta.std()) - 3.0) < 0.05  # std 3 x the (unit) feature std
    dropped = load_data("mfeat", drop="pix")
    assert split_accuracy(dropped, "pix") < 0.16


def test_noise_is_deterministic_per_seed():
    a = load_data("mfeat", seed=1, noise="fou=1")
    b = load_data("mfeat", seed=1, noise={"fou": 1.0})
    c = load_data("mfeat", seed=2, noise={"fou": 1.0})
    assert torch.equal(a.train.streams["fou"], b.train.streams["fou"])
    assert not torch.equal(a.train.streams["fou"], c.train.streams["fou"])


def test_missing_file(tmp_path):
    with pytest.raises(DataError, match="not found") as info:
        load_data("mfeat", path=tmp_path / "mfeat.npz")
    assert "mfeat.npz" in str(info.value)


def test_corrupt_file_fails_the_checksum(tmp_path):
    copy = tmp_path / "mfeat.npz"
    data = bytearray(VENDORED.read_bytes())
    data[len(data) // 2] ^= 0xFF
    copy.write_bytes(bytes(data))
    with pytest.raises(DataError, match="sha256") as info:
        load_data("mfeat", path=copy)
    assert str(copy) in str(info.value) and SHA256 in str(info.value)


def test_unreadable_and_misshapen_files(tmp_path):
    truncated = tmp_path / "truncated.npz"
    truncated.write_bytes(VENDORED.read_bytes()[:5000])
    with pytest.raises(DataError, match="not a readable .npz"):
        load_data("mfeat", path=truncated, verify_checksum=False)
    arrays = read_npz(VENDORED)
    arrays["fou"] = arrays["fou"][:, :70]
    misshapen = tmp_path / "misshapen.npz"
    np.savez(misshapen, **arrays)
    with pytest.raises(DataError, match=r"'fou' is float32 \(2000, 70\); expected .*\(2000, 76\)"):
        load_data("mfeat", path=misshapen, verify_checksum=False)
    with pytest.raises(DataError, match="sha256"):
        load_data("mfeat", path=misshapen)
    shutil.copy(VENDORED, tmp_path / "good.npz")
    assert len(load_data("mfeat", path=tmp_path / "good.npz").train) == 1000


def test_bad_knobs():
    with pytest.raises(DataError, match="fou, fac, kar, pix, zer, mor"):
        load_data("mfeat", noise={"pixels": 1.0})
    with pytest.raises(DataError, match="Valid options"):
        load_data("mfeat", occlusion={"pix": 0.2})
