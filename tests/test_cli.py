"""The `streamfuse` command: help, bad options, train -> explain, sweep."""

import os
import stat
import subprocess
import sys

import pytest

from streamfuse.cli import main

TINY = ["--data-option", "n_train=48", "--data-option", "n_test=24", "--data-option", "size=8", "--data-option", "frames=4",
        "--epochs", "1", "--width", "8", "--quiet"]


def run_cli(*args):
    return subprocess.run([sys.executable, "-m", "streamfuse.cli", *args], capture_output=True, text=True, timeout=300)


def test_help_explains_the_commands(capsys):
    for argv in (["--help"], ["bench", "--help"]):
        with pytest.raises(SystemExit) as exit_:
            main(argv)
        assert exit_.value.code == 0
    out = capsys.readouterr().out
    for word in ("bench", "train", "explain", "sweep", "list", "which stream carries the information"):
        assert word in out
    assert "--fusions" in out and "resumes" in out


@pytest.mark.parametrize("command", ["bench", "train", "sweep"])
def test_balance_help_lists_every_registered_recipe(capsys, command):
    from streamfuse.training.balance import BALANCE

    with pytest.raises(SystemExit):
        main([command, "--help"])
    text = "".join(capsys.readouterr().out.split())  # argparse wraps lines, also after hyphens
    for name, recipe in BALANCE.items():
        assert "".join(f"{name} ({recipe.summary})".split()) in text


def test_no_command_prints_help(capsys):
    assert main([]) == 0
    assert "usage: streamfuse" in capsys.readouterr().out


@pytest.mark.parametrize(
    "args, message",
    [
        (["bench", "--fusions", "atention"], "unknown fusion method 'atention'. Did you mean 'attention'?"),
        (["bench", "--data", "no-such-data"], "no-such-data"),
        (["bench", "--noise-streams", "rgb"], "expected STREAM=VALUE pairs like 'rgb=0.5', got 'rgb'"),
        (["bench", "--noise-streams", "=0.5"], "--noise-streams: expected STREAM=VALUE pairs like 'rgb=0.5', got '=0.5'"),
        (["bench", "--occlusion", "pose=0.1, pose=0.2"], "--occlusion: stream 'pose' is given twice"),
        (["bench", "--noise-streams", "depth=1"], "depth"),
        (["sweep", "--stream", "rgb", "--noise", "0,lots"], "--noise expects comma-separated numbers"),
        (["bench", "--aux-loss", "-0.5"], "--aux-loss must be a number >= 0 (0 = no per-stream auxiliary losses), got -0.5"),
        (["train", "--aux-loss", "-1"], "--aux-loss must be a number >= 0"),
        (["sweep", "--stream", "rgb", "--aux-loss", "nan"], "--aux-loss must be a number >= 0"),
        (["train", "--fusion", "late", "--aux-loss", "1"], "--aux-loss applies to fusion models; the baseline 'late' is trained without it"),
        (["train", "--fusion", "single:rgb", "--stacked"], "--stacked applies to fusion models; the baseline 'single:rgb'"),
        (["explain", "missing.pt"], "checkpoint 'missing.pt' does not exist"),
        (["bench", "--fusions", "gmu,concat", "--fusion-option", "stream_norm=true"],
         "fusion option 'stream_norm' is not an option of 'concat'; methods that take it: adaptive, attention"),
        (["bench", "--fusions", "gmu", "--fusion-option", "strem_norm=true"], "no method takes it; the options of 'gmu' are: stream_norm"),
        (["train", "--fusion", "scalar", "--fusion-option", "device=cuda"], "fusion option 'device' is set for the whole model: use --device"),
        (["sweep", "--stream", "rgb", "--fusions", "lowrank", "--fusion-option", "rank=2", "--fusion-option", "num_heads=2"],
         "fusion option 'num_heads' is not an option of 'lowrank'"),
        (["bench", "--fusion-option", "stream_norm"], "--fusion-option expects KEY=VALUE, got 'stream_norm'"),
        (["bench", "--fusions", "gmu", "--fusion-option", "stream_norm=maybe"],
         'fusion option stream_norm="maybe" for \'gmu\': expected true or false (default false)'),
        (["train", "--fusion", "lowrank", "--fusion-option", "rank=2.5"], "fusion option rank=2.5 for 'lowrank': expected an integer (default 4)"),
        (["train", "--fusion", "late", "--fusion-option", "rank=2"], "--fusion-option applies to fusion models; the baseline 'late' is trained without it"),
    ],
)
def test_bad_options_give_clear_errors(args, message, capsys):
    assert main(args) == 2
    err = capsys.readouterr().err
    assert message in err and err.startswith(f"streamfuse {args[0]}: error:")


def test_argparse_rejects_bad_types():
    out = run_cli("bench", "--seeds", "two")
    assert out.returncode == 2 and "invalid int value: 'two'" in out.stderr


def test_list(capsys):
    assert main(["list"]) == 0
    out = capsys.readouterr().out
    assert "cross_attention" in out and "mfeat" in out and "normalize" in out


def test_train_then_explain(tmp_path, capsys):
    ckpt = tmp_path / "m.pt"
    assert main(["train", "--fusion", "attention", "--save", str(ckpt), *TINY]) == 0
    assert ckpt.exists()
    before = ckpt.read_bytes()
    assert main(["train", "--fusion", "attention", "--save", str(ckpt), *TINY]) == 2  # never overwritten
    assert "exists; nothing was overwritten" in capsys.readouterr().err
    assert ckpt.read_bytes() == before
    assert main(["explain", str(ckpt), "--out", str(tmp_path / "imp.png")]) == 0
    out = capsys.readouterr().out
    assert "pose" in out and "rgb" in out and "Spearman" in out
    assert (tmp_path / "imp.png").read_bytes()[:4] == b"\x89PNG"
    assert main(["explain", str(ckpt), "--out", str(tmp_path / "imp.png")]) == 2  # an existing PNG is kept
    assert "imp.png' exists; nothing was overwritten" in capsys.readouterr().err


def test_sweep_writes_csv_and_plot(tmp_path, capsys):
    out = tmp_path / "sweep"
    assert main(["sweep", "--stream", "rgb", "--noise", "0,2", "--fusions", "scalar", "--out", str(out), *TINY]) == 0
    rows = (out / "sweep.csv").read_text().strip().splitlines()
    assert rows[0].startswith("noise,method,accuracy") and len(rows) == 3
    assert (out / "sweep.png").exists()
    captured = capsys.readouterr()
    assert "| scalar |" in captured.out
    assert f"noise 2 -> {out / 'noise-2'}" in captured.err  # each level says where it writes


@pytest.mark.parametrize("command", [["bench"], ["train"], ["sweep", "--stream", "rgb"]])
def test_stacked_flag_reaches_the_training_config(command):
    from streamfuse.cli import _train_config, build_parser

    for extra, want in (([], False), (["--stacked"], True)):
        args = build_parser().parse_args([*command, *extra])
        assert _train_config(args).stacked is want


@pytest.mark.parametrize("command", [["bench"], ["train"], ["sweep", "--stream", "rgb"]])
def test_balance_defaults_to_the_preset_and_yields_to_aux_loss_and_stacked(command):
    from streamfuse.bench.presets import PRESETS
    from streamfuse.cli import _train_config, build_parser

    def balance(*extra):
        return _train_config(build_parser().parse_args([*command, *extra])).balance

    assert balance() == PRESETS["video"]["balance"] == "masked"
    assert balance("--balance", "gblend") == "gblend"
    assert balance("--aux-loss", "0.5") == balance("--stacked") == "none"  # recipes of plain joint training


def test_the_left_out_note_says_why_with_both_statistics():
    from streamfuse.cli import _left_out_note

    assert _left_out_note({"left_out": []}) == ""
    ev = {"pose": {"gain": -0.0648, "t": -1.34, "accuracy": 0.167, "prior_accuracy": 0.125, "z": 1.07, "n": 72, "looks": 15}}
    note = _left_out_note({"left_out": ["pose"], "stream_evidence": ev})
    assert ("pose (alone on validation: accuracy 0.17 vs the class prior's 0.12, z=1.1 < 2.94; "
            "0.06 nats/sample below the prior, t=-1.3 < 1.96)") in note
    assert "--keep-streams" in note
    old = {"pose": {"gain": 0.02, "t": 0.5, "n": 72}}  # a run recorded before the accuracy test
    assert "pose (alone on validation: 0.02 nats/sample above the prior, t=0.5 < 1.96)" in _left_out_note({"left_out": ["pose"], "stream_evidence": old})


def test_fusion_options_reach_the_model(tmp_path):
    """--fusion-option values are parsed as JSON, reach the fusion's constructor and the run record."""
    import json

    out = tmp_path / "b"
    assert main(["bench", "--fusions", "gmu,lowrank", "--no-baselines", "--out", str(out), "--fusion-option", "stream_dropout=0.25", *TINY]) == 0
    run = json.loads((out / "runs" / "gmu__seed0.json").read_text())
    assert run["spec"]["fusion_options"] == {"stream_dropout": 0.25}
    ckpt = tmp_path / "m.pt"
    assert main(["train", "--fusion", "gmu", "--fusion-option", "stream_norm=true", "--save", str(ckpt), *TINY]) == 0
    from streamfuse.training import load_checkpoint

    model, payload = load_checkpoint(ckpt)
    assert payload["spec"]["fusion_options"] == {"stream_norm": True}
    assert model.head.fusion.proj.norm is True


# ----------------------------------------------------------------------------- checked before any work
@pytest.fixture
def no_data(monkeypatch):
    """Fail the test if a command loads data: every check below must come first."""
    import streamfuse.cli

    def refuse(*args, **kwargs):
        raise AssertionError("data was loaded before the arguments were checked")

    monkeypatch.setattr(streamfuse.cli, "_load", refuse)
    monkeypatch.setattr("streamfuse.data.load_data", refuse)


@pytest.mark.parametrize(
    "args, message",
    [
        (["bench", "--seeds", "0"], "--seeds must be an integer >= 1, got 0"),
        (["bench", "--epochs", "0"], "--epochs must be an integer >= 1, got 0"),
        (["train", "--epochs", "-1"], "--epochs must be an integer >= 1, got -1"),
        (["bench", "--batch-size", "0"], "--batch-size must be an integer >= 1, got 0"),
        (["train", "--lr", "nan"], "--lr must be a number > 0, got nan"),
        (["bench", "--lr", "-1"], "--lr must be a number > 0, got -1.0"),
        (["bench", "--width", "0"], "--width must be an integer >= 1, got 0"),
        (["train", "--dim", "0"], "--dim must be an integer >= 1, got 0"),
        (["bench", "--patience", "0"], "--patience must be an integer >= 1, got 0"),
        (["bench", "--data-seed", "-1"], "--data-seed must be an integer >= 0, got -1"),
        (["train", "--seed", "-2"], "--seed must be an integer >= 0, got -2"),
        (["bench", "--stream-dropout", "1.5"], "--stream-dropout must be a number in [0, 1), got 1.5"),
        (["train", "--stream-dropout", "-0.1"], "--stream-dropout must be a number in [0, 1), got -0.1"),
        (["train", "--fusion", "late", "--stream-dropout", "0.2"], "--stream-dropout applies to fusion models; the baseline 'late'"),
        (["bench", "--fusions", "gmu,gmu"], "--fusions names 'gmu' more than once"),
        (["sweep", "--stream", "rgb", "--seeds", "0"], "--seeds must be an integer >= 1, got 0"),
        (["sweep", "--stream", "rgb", "--noise", "0,0"], "--noise names a level twice"),
        (["sweep", "--stream", "rgb", "--noise", "0,-1"], "--noise levels must be finite numbers >= 0, got -1.0"),
        (["bench", "--fusions", "transformer", "--fusion-option", "num_heads=0"], "fusion 'transformer'"),
        (["train", "--fusion", "cross_attention", "--fusion-option", "num_heads=0"], "fusion 'cross_attention'"),
        (["bench", "--fusions", "convex", "--fusion-option", "normalize=sigmoid"], "'normalize'"),
        (["bench", "--balance", "blend"], "unknown --balance recipe 'blend'"),
        (["train", "--balance", "gblend", "--aux-loss", "1"], "--aux-loss applies to plain joint training (--balance none)"),
        (["bench", "--balance", "ogm", "--stacked"], "--stacked applies to plain joint training"),
        (["bench", "--fusions", "late_learned", "--fusion-option", "stream_norm=true"], "not an option of 'late_learned'"),
        (["train", "--fusion", "late_learned", "--stream-dropout", "0.2"], "'late_learned' is a score-level model"),
        (["bench", "--fusions", "late_learned", "--fusion-option", "foo=1"], "no method takes it, and 'late_learned' takes no options"),
        (["bench", "--fusions", "attention,late_learned", "--aux-loss", "0.5"],
         "--aux-loss applies to fusion models; the score-level model 'late_learned' is trained without it"),
    ],
)
def test_every_argument_is_checked_before_data_is_loaded(args, message, capsys, no_data):
    assert main(args) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"streamfuse {args[0]}: error:") and message in err, err


def test_an_unwritable_output_is_found_before_data_is_loaded(tmp_path, capsys, no_data):
    afile = tmp_path / "a-file"
    afile.write_text("mine")
    assert main(["bench", "--out", str(afile)]) == 2
    assert f"--out '{afile}' is a file, not a folder" in capsys.readouterr().err
    assert main(["bench", "--out", str(afile / "sub")]) == 2
    assert "cannot be written" in capsys.readouterr().err
    assert main(["train", "--save", str(afile / "m.pt")]) == 2
    err = capsys.readouterr().err
    assert "--save" in err and "is a file, not a folder" in err
    assert main(["train", "--save", str(tmp_path), "--overwrite"]) == 2
    assert "is a folder; give a file path" in capsys.readouterr().err
    assert main(["explain", str(afile), "--out", str(afile / "x.png")]) == 2
    assert afile.read_text() == "mine"


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into read-only folders")
def test_a_read_only_output_is_found_before_data_is_loaded(tmp_path, capsys, no_data):
    ro = tmp_path / "ro"
    ro.mkdir()
    ro.chmod(0o555)
    try:
        assert main(["train", "--save", str(ro / "m.pt")]) == 2
        assert "--save" in capsys.readouterr().err
        assert main(["bench", "--out", str(ro)]) == 2
        assert "--out" in capsys.readouterr().err
    finally:
        ro.chmod(0o755)


def test_without_the_bench_extra_list_says_what_to_install():
    """numpy hidden before anything is imported (as if installed without extras): a clear message."""
    code = "import sys; sys.modules['numpy'] = None; from streamfuse.cli import main; sys.exit(main(sys.argv[1:]))"
    out = subprocess.run([sys.executable, "-c", code, "list"], capture_output=True, text=True, timeout=120)
    assert out.returncode == 2, out.stderr[-2000:]
    assert 'pip install "streamfuse[bench]"' in out.stderr and "numpy" in out.stderr
    assert "Traceback" not in out.stderr


@pytest.mark.parametrize(
    "command, package",
    [(["bench"], "numpy"), (["bench"], "matplotlib"), (["bench"], "tqdm"), (["train"], "numpy"),
     (["explain", "m.pt"], "matplotlib"), (["sweep", "--stream", "rgb"], "tqdm")],
)
def test_without_the_bench_extra_every_command_says_what_to_install(command, package, monkeypatch, capsys, no_data):
    monkeypatch.setitem(sys.modules, package, None)  # find_spec and import both fail for it now
    assert main(command) == 2
    err = capsys.readouterr().err
    assert f"`streamfuse {command[0]}` needs {package}, from the 'bench' extra" in err and 'pip install "streamfuse[bench]"' in err


def test_output_files_honour_the_umask(tmp_path):
    old = os.umask(0o027)
    try:
        assert main(["train", "--fusion", "scalar", "--save", str(tmp_path / "m.pt"), *TINY]) == 0
        assert main(["bench", "--fusions", "scalar", "--no-baselines", "--out", str(tmp_path / "b"), *TINY]) == 0
    finally:
        os.umask(old)
    assert stat.S_IMODE((tmp_path / "m.pt").stat().st_mode) == 0o640
    for path in [tmp_path / "b" / n for n in ("results.json", "results.csv", "accuracy.png")] + list((tmp_path / "b" / "runs").glob("*.json")):
        assert stat.S_IMODE(path.stat().st_mode) == 0o640, path


# ----------------------------------------------------------------------------- explain and checkpoints
def _npz_folder(path, streams, n=24, classes=2):
    import numpy as np

    rng = np.random.default_rng(0)
    path.mkdir()
    y = np.arange(n) % classes
    np.savez(path / "train.npz", labels=y, **{s: rng.normal(size=(n, c)).astype("float32") + y[:, None] for s, c in streams.items()})
    return path


def test_explain_with_data_of_other_streams_is_a_clear_error(tmp_path, capsys):
    ckpt = tmp_path / "m.pt"
    assert main(["train", "--fusion", "scalar", "--save", str(ckpt), *TINY]) == 0
    other = _npz_folder(tmp_path / "other", {"a": 3, "b": 5})
    capsys.readouterr()
    assert main(["explain", str(ckpt), "--data", str(other), "--out", str(tmp_path / "i.png")]) == 2
    err = capsys.readouterr().err
    assert "was trained on streams" in err and "'pose'" in err and "{'a': 3, 'b': 5}" in err and "Traceback" not in err


def test_explain_a_checkpoint_without_its_config_is_a_clear_error(tmp_path, capsys):
    import torch

    ckpt = tmp_path / "m.pt"
    assert main(["train", "--fusion", "scalar", "--save", str(ckpt), *TINY]) == 0
    payload = torch.load(ckpt, weights_only=True)
    del payload["config"]
    torch.save(payload, ckpt)
    assert main(["explain", str(ckpt), "--out", str(tmp_path / "i.png")]) == 2
    assert "has no config recording its data; pass --data" in capsys.readouterr().err


def test_a_relative_data_folder_works_from_another_directory(tmp_path, monkeypatch, capsys):
    import torch

    work = tmp_path / "work"
    work.mkdir()
    _npz_folder(work / "mydata", {"a": 3, "b": 4})
    monkeypatch.chdir(work)
    assert main(["train", "--fusion", "scalar", "--data", "mydata", "--save", "m.pt", "--epochs", "1", "--width", "4", "--quiet"]) == 0
    payload = torch.load(work / "m.pt", weights_only=True)
    assert payload["config"]["data"] == str(work / "mydata")  # stored absolute
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    assert main(["explain", str(work / "m.pt"), "--out", "a.png"]) == 0
    # A checkpoint from before: the relative path is looked up next to the checkpoint.
    payload["config"]["data"] = "mydata"
    torch.save(payload, work / "old.pt")
    assert main(["explain", str(work / "old.pt"), "--out", "b.png"]) == 0
    assert (elsewhere / "b.png").exists()


def test_an_interrupted_train_says_nothing_was_saved(tmp_path, monkeypatch, capsys):
    import streamfuse.cli

    def interrupt(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(streamfuse.cli, "_load", interrupt)
    assert main(["train", "--save", str(tmp_path / "m.pt")]) == 130
    err = capsys.readouterr().err
    assert "nothing was saved by this `streamfuse train`" in err and "finished runs" not in err
    assert not (tmp_path / "m.pt").exists()


def test_sweep_out_is_checked_before_data_is_loaded(tmp_path, capsys, no_data):
    afile = tmp_path / "a-file"
    afile.write_text("mine")
    assert main(["sweep", "--stream", "rgb", "--out", str(afile)]) == 2
    assert f"--out '{afile}' is a file, not a folder" in capsys.readouterr().err


@pytest.mark.parametrize("flag, value", [("--noise-streams", "rbg=1"), ("--drop", "poze"), ("--occlusion", "rgb=0.5,x=0.1")])
def test_stream_knobs_name_the_flag_before_data_is_loaded(flag, value, tmp_path, capsys, no_data):
    assert main(["train", flag, value, "--save", str(tmp_path / "m.pt")]) == 2
    err = capsys.readouterr().err
    assert f"{flag} names stream" in err and "which video does not have" in err and "Valid streams: pose, rgb" in err


def test_sweep_stream_is_checked_before_data_is_loaded(tmp_path, capsys, no_data):
    assert main(["sweep", "--stream", "rbg", "--out", str(tmp_path / "s")]) == 2  # video: pose, rgb
    assert "--stream 'rbg' is not a stream of video; streams are ['pose', 'rgb']" in capsys.readouterr().err
    folder = _npz_folder(tmp_path / "d", {"a": 3, "b": 4})
    assert main(["sweep", "--data", str(folder), "--stream", "zz", "--out", str(tmp_path / "t")]) == 2
    err = capsys.readouterr().err
    assert "--stream 'zz' is not a stream of" in err and "streams are ['a', 'b']" in err


@pytest.mark.parametrize("command", [["bench"], ["train", "--save", "m.pt"], ["sweep", "--stream", "rgb"]])
def test_keep_streams_flag_reaches_the_training_settings(command):
    from streamfuse.cli import _train_config, build_parser

    parser = build_parser()
    assert _train_config(parser.parse_args(command)).keep_streams is False  # leaving out is the default
    assert _train_config(parser.parse_args([*command, "--keep-streams"])).keep_streams is True


def test_train_names_the_schedules_a_recipe_tried_and_the_one_kept():
    from streamfuse.cli import _schedule_note

    run = {"balance": {"frozen_epochs": 5, "schedules": [{"frozen_epochs": 0, "val_accuracy": 0.5, "val_loss": 1.25},
                                                         {"frozen_epochs": 5, "val_accuracy": 0.625, "val_loss": 1.5}]}}
    assert _schedule_note(run) == ("trained under 2 schedules, kept the better on validation: plain fine-tuning 0.500 (loss 1.250); "
                                   "encoders frozen for the first 5 epochs 0.625 (loss 1.500), kept")
    assert _schedule_note({"balance": {"frozen_epochs": 0, "schedules": [{"frozen_epochs": 0, "val_accuracy": 0.5, "val_loss": 1.0}]}}) == ""
    assert _schedule_note({"balance": {}}) == _schedule_note({}) == ""


def test_outputs_never_replace_what_the_command_reads(tmp_path, capsys):
    """--overwrite replaces an earlier output, never the checkpoint or the data being read."""
    data = _npz_folder(tmp_path / "d", {"a": 3, "b": 4})
    train_file = (data / "train.npz").read_bytes()
    args = ["--fusion", "scalar", "--data", str(data), "--epochs", "1", "--width", "4", "--quiet"]
    assert main(["train", *args, "--save", str(data / "train.npz"), "--overwrite"]) == 2
    assert "which this command reads; nothing was written" in capsys.readouterr().err
    assert (data / "train.npz").read_bytes() == train_file
    ckpt = tmp_path / "m.pt"
    assert main(["train", *args, "--save", str(ckpt)]) == 0
    saved = ckpt.read_bytes()
    for out in (ckpt, data / "train.npz"):
        assert main(["explain", str(ckpt), "--out", str(out), "--overwrite"]) == 2
        assert "which this command reads" in capsys.readouterr().err
    assert ckpt.read_bytes() == saved and (data / "train.npz").read_bytes() == train_file


def test_explain_refuses_data_changed_since_training(tmp_path, capsys):
    import numpy as np

    data = _npz_folder(tmp_path / "d", {"a": 3, "b": 4})
    ckpt = tmp_path / "m.pt"
    assert main(["train", "--fusion", "scalar", "--data", str(data), "--epochs", "1", "--width", "4", "--quiet", "--save", str(ckpt)]) == 0
    assert main(["explain", str(ckpt), "--out", str(tmp_path / "before.png")]) == 0  # unchanged: explained
    arrays = dict(np.load(data / "train.npz"))
    arrays["labels"] = arrays["labels"][::-1].copy()  # same shapes, other samples
    np.savez(data / "train.npz", **arrays)
    capsys.readouterr()
    assert main(["explain", str(ckpt), "--out", str(tmp_path / "i.png")]) == 2
    assert "changed since the model was trained on it" in capsys.readouterr().err
    assert not (tmp_path / "i.png").exists()
    # named explicitly, the user's choice: explained
    assert main(["explain", str(ckpt), "--data", str(data), "--out", str(tmp_path / "i.png")]) == 0
    from streamfuse import StreamFuseError
    from streamfuse.training import load_trained

    with pytest.raises(StreamFuseError, match="changed since the model was trained on it"):
        load_trained(ckpt)
    assert load_trained(ckpt, data=str(data))[1].stream_names == ["a", "b"]


def test_explain_refuses_streams_of_another_kind(tmp_path, capsys):
    import numpy as np

    data = _npz_folder(tmp_path / "d", {"a": 3, "b": 4})
    ckpt = tmp_path / "m.pt"
    assert main(["train", "--fusion", "scalar", "--data", str(data), "--epochs", "1", "--width", "4", "--quiet", "--save", str(ckpt)]) == 0
    images = tmp_path / "img"
    images.mkdir()
    rng = np.random.default_rng(0)
    np.savez(images / "train.npz", a=rng.normal(size=(24, 3)), b=rng.normal(size=(24, 4, 2, 2)), labels=np.arange(24) % 2)
    capsys.readouterr()
    assert main(["explain", str(ckpt), "--data", str(images), "--out", str(tmp_path / "i.png")]) == 2
    err = capsys.readouterr().err
    assert "stream 'b' is a 'vector' there but a 'image' here" in err and "Traceback" not in err


def test_single_stream_baselines_are_checked_against_the_data(tmp_path, capsys):
    data = _npz_folder(tmp_path / "d", {"a": 3, "b": 4})
    args = ["--data", str(data), "--epochs", "1", "--width", "4", "--quiet"]
    assert main(["train", "--fusion", "single:zz", *args, "--save", str(tmp_path / "z.pt")]) == 2
    assert "has no stream 'zz'; its streams are ['a', 'b']" in capsys.readouterr().err
    assert main(["train", "--fusion", "convex", "--data", str(_npz_folder(tmp_path / "one", {"a": 3})), "--epochs", "1",
                 "--quiet", "--save", str(tmp_path / "c.pt")]) == 2  # the data's stream count, not the encoders' widths
    assert "fusion 'convex' takes 2..2 streams; this data has 1" in capsys.readouterr().err
    assert main(["train", "--fusion", "single:a", *args, "--save", str(tmp_path / "s.pt")]) == 0
    capsys.readouterr()
    assert main(["explain", str(tmp_path / "s.pt"), "--out", str(tmp_path / "s.png")]) == 2
    assert "single-stream baseline 'single:a': one stream, nothing to compare" in capsys.readouterr().err
