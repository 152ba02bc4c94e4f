"""A bench results folder: one settings set, one writer, nothing of anyone else's overwritten."""

import csv
import json
import os

import pytest

from streamfuse.cli import main

from ..test_cli import TINY

ONE = ["bench", "--no-baselines", *TINY]


@pytest.fixture
def no_data(monkeypatch):
    import streamfuse.cli

    def refuse(*args, **kwargs):
        raise AssertionError("data was loaded although the folder is refused")

    monkeypatch.setattr(streamfuse.cli, "_load", refuse)


@pytest.mark.parametrize("name", ["results.json", "results.csv", "accuracy.png", "weights.png"])
def test_a_summary_file_of_something_else_is_never_overwritten(tmp_path, capsys, no_data, name):
    out = tmp_path / "b"
    out.mkdir()
    (out / name).write_bytes(b"someone else's")
    assert main([*ONE, "--fusions", "scalar", "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert f"{name} was not written by a streamfuse bench" in err and "nothing was written or overwritten" in err
    assert (out / name).read_bytes() == b"someone else's"
    assert not (out / "runs").exists()


def test_summary_keeps_earlier_methods_and_refuses_edited_or_other_settings(tmp_path, capsys):
    out = tmp_path / "b"
    assert main([*ONE, "--fusions", "scalar", "--out", str(out)]) == 0
    assert main([*ONE, "--fusions", "concat", "--out", str(out)]) == 0  # other methods, same settings
    assert "keeps 1 earlier runs with these settings: scalar" in capsys.readouterr().out
    results = json.loads((out / "results.json").read_text())
    assert [m["method"] for m in results["methods"]] == ["concat", "scalar"]
    with open(out / "results.csv", newline="") as fh:
        assert [row["method"] for row in csv.DictReader(fh)] == ["concat", "scalar"]
    # Other settings with another method: refused before training anything, nothing written.
    before = {p: p.read_bytes() for p in out.rglob("*") if p.is_file()}
    assert main([*ONE, "--fusions", "gmu", "--epochs", "2", "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert "holds runs made with other settings" in err and "nothing was written" in err
    assert {p: p.read_bytes() for p in out.rglob("*") if p.is_file()} == before
    # A summary file edited since the bench wrote it is the user's now.
    (out / "results.csv").write_text("my notes\n")
    assert main([*ONE, "--fusions", "scalar", "--out", str(out)]) == 2
    assert "results.csv was changed or replaced since streamfuse bench wrote it" in capsys.readouterr().err
    assert (out / "results.csv").read_text() == "my notes\n"


def test_other_settings_are_named_when_no_run_clashes(tmp_path, capsys):
    """The manifest alone (no run file of the new settings' methods) refuses a settings change."""
    out = tmp_path / "b"
    assert main([*ONE, "--fusions", "scalar", "--out", str(out)]) == 0
    for run in (out / "runs").glob("*.json"):
        run.unlink()
    assert main([*ONE, "--fusions", "scalar", "--lr", "0.5", "--out", str(out)]) == 2
    assert "holds results made with other settings (lr 0.003 -> 0.5)" in capsys.readouterr().err


def test_a_second_bench_on_the_same_folder_stops_naming_the_holder(tmp_path, capsys, no_data):
    out = tmp_path / "b"
    out.mkdir()
    from streamfuse._io import FolderLock

    with FolderLock(out):  # another process's bench, as far as the lock can tell
        assert main([*ONE, "--fusions", "scalar", "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert f"is in use by another streamfuse bench process (pid {os.getpid()})" in err
    assert not (out / "runs").exists()


def test_the_lock_is_released_and_taken_again(tmp_path):
    from streamfuse._io import FolderLock

    with FolderLock(tmp_path):
        pass
    with FolderLock(tmp_path) as lock:
        assert lock.path.read_text().strip() == str(os.getpid())


def _bench(out):
    from streamfuse.bench.runner import BenchConfig

    return BenchConfig(data="video", out=str(out))


def test_a_summary_interrupted_while_being_rewritten_is_still_ours(tmp_path):
    """A bench killed between rewriting results.csv and the manifest left its own files behind."""
    from streamfuse import StreamFuseError
    from streamfuse.bench.folder import MANIFEST, MANIFEST_FORMAT, check_folder, settings

    bench = _bench(tmp_path)
    (tmp_path / "results.csv").write_text("newer than the manifest")
    for writing in (True, False):
        manifest = {"format": MANIFEST_FORMAT, "settings": settings(bench), "files": {"results.csv": "0" * 64}, "writing": writing}
        (tmp_path / MANIFEST).write_text(json.dumps(manifest, default=str))
        if writing:
            check_folder(bench)
        else:
            with pytest.raises(StreamFuseError, match="results.csv was changed or replaced"):
                check_folder(bench)


def test_a_folder_from_before_the_manifest_resumes_when_its_runs_match(tmp_path):
    from streamfuse import StreamFuseError
    from streamfuse.bench.folder import check_folder
    from streamfuse.bench.runner import RUN_FORMAT, run_key

    bench = _bench(tmp_path)
    run = {"format": RUN_FORMAT, "key": run_key(bench, "scalar", 0), "method": "scalar", "seed": 0}
    (tmp_path / "results.json").write_text(json.dumps({"config": {}, "runs": [run]}))
    (tmp_path / "results.csv").write_text("method\nscalar\n")
    check_folder(bench)
    run["key"] = "0123456789abcdef"
    (tmp_path / "results.json").write_text(json.dumps({"config": {}, "runs": [run]}))
    with pytest.raises(StreamFuseError, match="were not written by a streamfuse bench with these settings"):
        check_folder(bench)
