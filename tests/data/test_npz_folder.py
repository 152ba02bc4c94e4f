"""User data from a folder of .npz files: the documented format and every rejection."""

import json

import numpy as np
import pytest
import torch

from streamfuse.data import DataError, load_data


def streams(n, rng):
    """One stream of every rank/kind, in deliberately mixed dtypes."""
    return {
        "tabular": rng.normal(size=(n, 5)),  # float64 -> vector
        "signal": rng.integers(0, 9, size=(n, 2, 7)),  # int -> sequence
        "image": rng.uniform(size=(n, 1, 4, 4)).astype(np.float16),  # -> image
        "clip": rng.uniform(size=(n, 3, 2, 4, 4)) > 0.5,  # bool -> video
    }


@pytest.fixture
def folder(tmp_path):
    rng = np.random.default_rng(0)
    np.savez(tmp_path / "train.npz", **streams(30, rng), labels=np.arange(30) % 3)
    np.savez(tmp_path / "test.npz", **streams(12, rng), labels=np.arange(12) % 3)
    return tmp_path


def test_loads_streams_in_file_order_with_inferred_kinds(folder):
    data = load_data(str(folder))
    assert data.name == folder.name and data.citation == ""
    assert data.stream_names == ["tabular", "signal", "image", "clip"]
    assert data.kinds == {"tabular": "vector", "signal": "sequence", "image": "image", "clip": "video"}
    assert data.num_classes == 3 and data.class_names == ["0", "1", "2"]
    assert data.train.streams["clip"].shape == (30, 3, 2, 4, 4)
    assert data.test.streams["signal"].shape == (12, 2, 7)
    for split in (data.train, data.test):
        assert all(x.dtype == torch.float32 for x in split.streams.values())
        assert split.labels.dtype == torch.int64
    saved = np.load(folder / "train.npz")
    assert np.array_equal(data.train.streams["signal"].numpy(), saved["signal"])


def test_meta_json_names_classes_and_kinds(folder):
    meta = {"class_names": ["a", "b", "c"], "kinds": {"image": "image"}, "citation": "me"}
    (folder / "meta.json").write_text(json.dumps(meta))
    data = load_data(folder)
    assert data.class_names == ["a", "b", "c"] and data.num_classes == 3
    assert data.citation == "me"


def test_more_class_names_than_classes_is_refused(folder):
    (folder / "meta.json").write_text(json.dumps({"class_names": ["a", "b", "c", "d"]}))
    with pytest.raises(DataError, match=r"class 3 'd' has no samples .*4.* drop unused names"):
        load_data(folder)


def test_one_class_only_is_refused(tmp_path):
    save(tmp_path / "train.npz", x=np.arange(20.0)[:, None], labels=np.zeros(20, dtype=int))
    with pytest.raises(DataError, match=r"train.npz: every training label is class '0'; expected at least two"):
        load_data(tmp_path)


def test_test_class_absent_from_train_is_refused(tmp_path):
    save(tmp_path / "train.npz", x=np.zeros((6, 2)), labels=np.array([0, 1, 0, 1, 0, 1]))
    save(tmp_path / "test.npz", x=np.zeros((4, 2)), labels=np.array([0, 1, 2, 2]))
    with pytest.raises(DataError, match=r"test.npz: class '2' \(2 test samples\) has no training samples"):
        load_data(tmp_path)


def test_a_gap_in_the_labels_is_refused(tmp_path):
    save(tmp_path / "train.npz", x=np.zeros((6, 2)), labels=np.array([0, 2, 0, 2, 0, 2]))
    save(tmp_path / "test.npz", x=np.zeros((2, 2)), labels=np.array([0, 2]))
    with pytest.raises(DataError, match=r"labels take 2 distinct values up to 2 \(0, 2\); .* 1 numbers are unused \(1\)"):
        load_data(tmp_path)
    (tmp_path / "meta.json").write_text(json.dumps({"class_names": ["a", "b", "c"]}))  # named: the named class is empty
    with pytest.raises(DataError, match=r"class 1 'b' has no samples \(class_names in meta.json: 3"):
        load_data(tmp_path)


def test_without_test_file_holds_out_a_fixed_stratified_fifth(tmp_path):
    y = np.repeat([0, 1, 2], [50, 20, 10])
    ids = np.arange(len(y), dtype=np.float64)[:, None]
    np.savez(tmp_path / "train.npz", ids=ids, y=y.astype(np.float32))  # whole-number floats ok
    data = load_data(tmp_path, seed=0)
    assert torch.bincount(data.test.labels).tolist() == [10, 4, 2]
    assert torch.bincount(data.train.labels).tolist() == [40, 16, 8]
    all_ids = torch.cat([data.train.streams["ids"], data.test.streams["ids"]]).flatten()
    assert sorted(all_ids.tolist()) == list(range(80))
    other_seed = load_data(tmp_path, seed=5)
    assert torch.equal(other_seed.test.streams["ids"], data.test.streams["ids"])


def test_noise_knob_applies_to_user_streams(folder):
    clean = load_data(folder)
    noisy = load_data(folder, noise="tabular=1")
    assert not torch.equal(noisy.train.streams["tabular"], clean.train.streams["tabular"])
    assert torch.equal(noisy.train.streams["signal"], clean.train.streams["signal"])
    with pytest.raises(DataError, match="tabular, signal, image, clip"):
        load_data(folder, drop="rgb")


def save(path, **arrays):
    np.savez(path, **arrays)
    return path


GOOD_X, GOOD_Y = np.zeros((4, 2)), np.array([0, 1, 0, 1])


@pytest.mark.parametrize(
    "train, test, expected",
    [
        (None, None, r"train.npz: file not found"),
        (dict(labels=GOOD_Y), None, r"train.npz: only labels, no stream arrays"),
        (dict(x=GOOD_X), None, r"train.npz: got keys \['x'\]; expected exactly one label array"),
        (dict(x=GOOD_X, labels=GOOD_Y, y=GOOD_Y), None, "both 'labels' and 'y'"),
        (dict(x=np.zeros((3, 2)), labels=GOOD_Y), None, r"stream 'x' has 3 samples but the labels have 4"),
        (dict(x=np.zeros(4), labels=GOOD_Y), None, r"stream 'x' has shape \(4,\); expected \(N, C\)"),
        (dict(x=np.array([["a", "b"]] * 4), labels=GOOD_Y), None, r"stream 'x' has dtype <U1"),
        (dict(x=np.where(np.eye(4, 2) > 0, np.nan, 0), labels=GOOD_Y), None, r"stream 'x' has 2 NaN/Inf"),
        (dict(x=np.full((4, 2), 1e300), labels=GOOD_Y), None, r"8 NaN/Inf values \(after conversion to float32"),
        (dict(x=GOOD_X, labels=GOOD_Y + 0.5), None, r"'labels' is float64 .* expected integer class labels"),
        (dict(x=GOOD_X, labels=GOOD_Y - 1), None, "negative label -1"),
        (dict(x=GOOD_X, z=GOOD_X, labels=GOOD_Y), dict(x=GOOD_X, labels=GOOD_Y), r"test.npz: stream 'z' is missing"),
        (dict(x=GOOD_X, labels=GOOD_Y), dict(x=GOOD_X, z=GOOD_X, labels=GOOD_Y), r"test.npz: stream 'z' is not in train.npz"),
        (dict(x=GOOD_X, labels=GOOD_Y), dict(x=np.zeros((4, 3)), labels=GOOD_Y), r"per-sample shape \(3,\); expected \(2,\)"),
        (dict(x=np.zeros((2, 2)), labels=np.array([0, 1])), None, "too few to hold out"),
        (dict(x=GOOD_X, labels=GOOD_Y), dict(x=np.zeros((0, 2)), labels=np.zeros(0, int)), r"test.npz: 0 samples; expected at least one"),
        (dict(x=np.zeros((4, 0)), labels=GOOD_Y), None, r"stream 'x' has shape \(4, 0\); expected at least one channel"),
        (dict(x=np.zeros((4, 2, 0)), labels=GOOD_Y), None, r"stream 'x' has shape \(4, 2, 0\)"),
        ({"acc.x": GOOD_X, "labels": GOOD_Y}, None, r"stream 'acc.x': a stream name must be non-empty and without '.'"),
        ({"": GOOD_X, "labels": GOOD_Y}, None, r"stream '': a stream name must be"),
        (dict(keys=GOOD_X, labels=GOOD_Y), None, r"stream 'keys': the name is taken by torch.nn.ModuleDict"),
        (dict(x=GOOD_X, labels=np.array([0, 10**6, 0, 10**6])), None, r"has a label 1000000; expected class numbers 0..K-1"),
        (dict(x=GOOD_X, labels=np.array([0, 2**63 + 5, 0, 1], dtype=np.uint64)), None, r"has a label 9223372036854775813"),
    ],
)  # fmt: skip
def test_rejections_name_file_stream_and_sizes(tmp_path, train, test, expected):
    if train is not None:
        save(tmp_path / "train.npz", **train)
    if test is not None:
        save(tmp_path / "test.npz", **test)
    with pytest.raises(DataError, match=expected):
        load_data(tmp_path)


def test_corrupt_and_pickled_archives(tmp_path):
    (tmp_path / "train.npz").write_bytes(b"PK\x03\x04 definitely not a zip archive")
    with pytest.raises(DataError, match=r"train.npz: not a readable .npz file"):
        load_data(tmp_path)
    np.savez(tmp_path / "train.npz", x=np.array([{"a": 1}] * 4, dtype=object), labels=GOOD_Y)
    with pytest.raises(DataError, match=r"array 'x' cannot be read"):
        load_data(tmp_path)
    np.save(tmp_path / "single.npy", GOOD_X)
    (tmp_path / "single.npy").rename(tmp_path / "train.npz")
    with pytest.raises(DataError, match="single .npy array"):
        load_data(tmp_path)


@pytest.mark.parametrize(
    "meta, expected",
    [
        ("{not json", "cannot read JSON"),
        (json.dumps(["a"]), "got a JSON list"),
        (json.dumps({"classes": ["a"]}), "unknown key 'classes'"),
        (json.dumps({"class_names": ["a"]}), "1 class_names but labels go up to 2"),
        (json.dumps({"class_names": [1, 2, 3]}), "expected a list of strings"),
        (json.dumps({"kinds": {"tabular": "video"}}), "given kind 'video' but has shape"),
        (json.dumps({"kinds": {"depth": "image"}}), "names stream 'depth'"),
    ],
)
def test_bad_meta_json(folder, meta, expected):
    (folder / "meta.json").write_text(meta)
    with pytest.raises(DataError, match=expected):
        load_data(folder)


def test_spec_errors(tmp_path):
    with pytest.raises(DataError, match="Valid names: video, mfeat, basicmotions; or the path"):
        load_data(str(tmp_path / "absent"))
    (tmp_path / "file.npz").write_bytes(b"")
    with pytest.raises(DataError, match="is a file; expected a folder"):
        load_data(tmp_path / "file.npz")
    with pytest.raises(DataError, match="Valid options: drop, noise"):
        load_data(tmp_path, standardize=True)


def test_labels_with_gaps_are_told_briefly(tmp_path):
    """Ids such as 100, 200, 300 would make hundreds of empty classes: one short message instead."""
    x = np.random.default_rng(0).normal(size=(12, 2))
    save(tmp_path / "train.npz", x=x, labels=np.array([100, 200, 300] * 4))
    with pytest.raises(DataError) as err:
        load_data(tmp_path)
    text = str(err.value)
    assert "3 distinct values up to 300 (100, 200, 300)" in text and "298 numbers are unused (0, 1, 2, 3, 4, ...)" in text
    assert len(text) < 500 and "meta.json:" not in text


def test_stream_names_are_free_but_for_what_the_model_refuses(tmp_path):
    names = ["left hand", "a/b", "画像", "x+y (1)"]
    save(tmp_path / "train.npz", labels=np.arange(10) % 2, **{n: np.random.default_rng(0).normal(size=(10, 2)) for n in names})
    assert load_data(tmp_path).stream_names == names


def test_a_class_only_the_test_split_holds_is_named_not_the_gap(tmp_path):
    save(tmp_path / "train.npz", x=np.zeros((6, 2)), labels=np.array([0, 1, 2, 0, 1, 2]))
    save(tmp_path / "test.npz", x=np.zeros((3, 2)), labels=np.array([0, 1, 5]))
    with pytest.raises(DataError, match=r"test.npz: class '5' \(1 test samples\) has no training samples"):
        load_data(tmp_path)
