"""The `streamfuse` command: help, bad options, train -> explain, sweep."""

import subprocess
import sys

import pytest

from streamfuse.cli import main

TINY = ["--data-option", "n_train=48", "--data-option", "n_test=24", "--data-option", "size=8", "--data-option", "frames=4",
        "--epochs", "1", "--width", "8", "--quiet"]


def run_cli(*args):
    return subprocess.run([sys.executable, "-m", "streamfuse.cli", *args], capture_output=True, text=True, timeout=300)


def test_help_explains_the_commands():
    out = run_cli("--help")
    assert out.returncode == 0
    for word in ("bench", "train", "explain", "sweep", "list", "which stream carries the information"):
        assert word in out.stdout
    bench_help = run_cli("bench", "--help").stdout
    assert "--fusions" in bench_help and "resumes" in bench_help


def test_no_command_prints_help(capsys):
    assert main([]) == 0
    assert "usage: streamfuse" in capsys.readouterr().out


@pytest.mark.parametrize(
    "args, message",
    [
        (["bench", "--fusions", "atention"], "unknown fusion method 'atention'. Did you mean 'attention'?"),
        (["bench", "--data", "no-such-data"], "no-such-data"),
        (["bench", "--noise-streams", "rgb"], "expected STREAM=VALUE pairs like 'rgb=0.5', got 'rgb'"),
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
    assert "| scalar |" in capsys.readouterr().out


@pytest.mark.parametrize("command", [["bench"], ["train"], ["sweep", "--stream", "rgb"]])
def test_stacked_flag_reaches_the_training_config(command):
    from streamfuse.cli import _train_config, build_parser

    for extra, want in (([], False), (["--stacked"], True)):
        args = build_parser().parse_args([*command, *extra])
        assert _train_config(args).stacked is want


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
