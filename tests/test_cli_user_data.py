"""User data through the CLI: standardisation on by default (and off on request), stored in the
checkpoint and applied by `explain`; training settings sized from the data."""

import json

import numpy as np
import torch

from streamfuse.bench.sizing import sized_settings
from streamfuse.cli import main
from streamfuse.data import load_data
from streamfuse.training import load_checkpoint


def user_folder(path, n=90, seed=0):
    rng = np.random.default_rng(seed)
    y = np.arange(n) % 3
    big = rng.normal(size=(n, 4)) * np.array([1.0, 10.0, 1e3, 1e4]) + 5e3
    big[np.arange(n), y] += 3 * np.array([1.0, 10.0, 1e3])[y]
    small = rng.normal(size=(n, 2, 6))
    np.savez(path / "train.npz", big=big, small=small, labels=y)
    return path


def test_train_standardizes_user_data_by_default_and_explain_applies_it(tmp_path, capsys):
    folder = user_folder(tmp_path)
    ckpt = tmp_path / "m.pt"
    assert main(["train", "--data", str(folder), "--fusion", "scalar", "--epochs", "1", "--width", "8", "--quiet", "--save", str(ckpt)]) == 0
    model, payload = load_checkpoint(ckpt)
    assert payload["spec"]["standardize"] is True and payload["config"]["standardize"] is True
    cfg = payload["config"]  # sized from the data where the command line is silent; given values win
    assert (cfg["batch_size"], cfg["patience"], cfg["val_fraction"], cfg["epochs"], cfg["width"]) == (16, 37, 0.2, 1, 8)
    data = load_data(folder)
    train = data.train.streams["big"].double()
    assert torch.allclose(model.standardizer.stats["big"].mean.double(), train.mean(0), rtol=1e-5)
    assert main(["explain", str(ckpt), "--out", str(tmp_path / "imp.png")]) == 0
    assert "big" in capsys.readouterr().out

    plain = tmp_path / "plain.pt"
    assert main(["train", "--data", str(folder), "--fusion", "scalar", "--epochs", "1", "--width", "8", "--quiet",
                 "--no-standardize", "--save", str(plain)]) == 0
    model, payload = load_checkpoint(plain)
    assert payload["spec"]["standardize"] is False and not hasattr(model, "standardizer")


def test_builtin_data_keep_their_own_handling(tmp_path):
    ckpt = tmp_path / "m.pt"
    assert main(["train", "--data", "basicmotions", "--fusion", "single:gyroscope", "--epochs", "1", "--width", "8", "--quiet", "--save", str(ckpt)]) == 0
    payload = load_checkpoint(ckpt)[1]
    assert payload["spec"]["standardize"] is False
    # a built-in data set is not fingerprinted (generated ones differ in the last bit between CPUs)
    assert "data_fingerprint" not in payload["config"]


def test_sized_settings_follow_the_data(tmp_path):
    small = sized_settings(load_data(user_folder(tmp_path)))  # 72 training samples, widest vector 4
    assert small == {"width": 64, "batch_size": 16, "epochs": 150, "patience": 37, "val_fraction": 0.2}
    big = tmp_path / "big"
    big.mkdir()
    rng = np.random.default_rng(0)
    np.savez(big / "train.npz", v=rng.normal(size=(2000, 200)), labels=np.arange(2000) % 4)
    assert sized_settings(load_data(big)) == {"width": 256, "batch_size": 64, "epochs": 40, "patience": 10, "val_fraction": 0.15}


def test_linear_baseline_trains_saves_and_explains(tmp_path, capsys):
    folder = user_folder(tmp_path)
    ckpt = tmp_path / "lin.pt"
    assert main(["train", "--data", str(folder), "--fusion", "linear", "--quiet", "--save", str(ckpt)]) == 0
    assert "chosen on validation" in capsys.readouterr().out
    model, payload = load_checkpoint(ckpt)
    assert type(model).__name__ == "LinearBaseline" and payload["spec"]["C"] in payload["spec"]["C_grid"]
    data = load_data(folder)
    acc = (model(data.test.streams).argmax(1) == data.test.labels).float().mean().item()
    assert acc == payload["metrics"]["accuracy"]
    assert main(["explain", str(ckpt), "--out", str(tmp_path / "lin.png")]) == 0
    assert "small" in capsys.readouterr().out
    assert main(["train", "--data", str(folder), "--fusion", "linear", "--stacked", "--save", str(tmp_path / "x.pt")]) == 2
    assert "logistic regression" in capsys.readouterr().err


def test_bench_and_sweep_folders_hold_the_sized_settings_and_resume(tmp_path, capsys):
    """The results folders are checked against the settings sized from the data (not the preset's),
    so the same command resumes instead of refusing its own folder."""
    folder = tmp_path / "d"
    folder.mkdir()
    user_folder(folder)
    tiny = ["--data", str(folder), "--fusions", "scalar", "--epochs", "1", "--width", "8", "--quiet"]
    bench = ["bench", *tiny, "--no-baselines", "--out", str(tmp_path / "b")]
    sweep = ["sweep", *tiny, "--stream", "big", "--noise", "0,1", "--out", str(tmp_path / "s")]
    for args, out, count in ((bench, tmp_path / "b", 1), (sweep, tmp_path / "s", 2)):
        assert main(args) == 0
        runs = sorted(out.rglob("runs/*.json"))
        assert len(runs) == count
        stamps = {p: (p.stat().st_mtime_ns, p.read_bytes()) for p in runs}
        assert main(args) == 0  # resumed: nothing retrained or rewritten
        assert {p: (p.stat().st_mtime_ns, p.read_bytes()) for p in runs} == stamps
    # batch size and patience sized from 72 training samples; the given epochs and width kept
    train = json.loads((tmp_path / "b" / "results.json").read_text())["config"]["train"]
    assert (train["batch_size"], train["patience"], train["epochs"], train["width"], train["standardize"]) == (16, 37, 1, 8, True)
