"""What a new user meets: the importance plot, progress lines in logs, --threads, sweep's trend
test, help strings, and the benchmark scripts' safety and messages."""

import importlib.util
import io
import sys
from pathlib import Path

import pytest
import torch

from streamfuse.cli import _importance_plot, _progress_factory, build_parser, main
from streamfuse.importance import stream_importance

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from tests.test_importance import SumOfTwo, twin_data  # noqa: E402


pytestmark = pytest.mark.usefixtures("one_thread")


def _script(name):
    spec = importlib.util.spec_from_file_location(f"_ux_{Path(name).stem}", ROOT / name)
    mod = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = mod
    spec.loader.exec_module(mod)
    return mod


# ------------------------------------------------------------------------------------ importance plot
def test_importance_plot_shows_the_whole_verdict_and_a_tie_as_a_tie(tmp_path):
    r = stream_importance(SumOfTwo(), twin_data())
    assert len(r.verdict) > 200 and r.leaders and len(r.leaders) == 2
    rec = _importance_plot(r, tmp_path / "imp.png")
    assert " ".join(rec["title_lines"]) == " ".join(r.verdict.split())  # nothing cut
    assert rec["tag"] == "tie" and sorted(rec["leaders"]) == ["a", "b"]
    assert all(p["ci"] for p in rec["panels"])  # bootstrap intervals drawn as error bars
    assert (tmp_path / "imp.png").read_bytes()[:4] == b"\x89PNG"


def test_importance_plot_labels_an_all_zero_panel_and_a_model_without_weights(tmp_path):
    class Deaf(SumOfTwo):  # uses stream 'a' only: removing 'b' changes nothing
        def forward(self, streams, mask=None, return_weights=False):
            z = streams["a"][:, 0] * (1.0 if mask is None else mask[:, 0].float())
            scores = torch.stack([torch.zeros_like(z), z], 1)
            return (scores, None) if return_weights else scores

    xs, y = twin_data()
    r = stream_importance(Deaf(), (xs, y))
    rec = _importance_plot(r, tmp_path / "imp.png")
    weight, drop, shap = rec["panels"]
    assert "no learned weights" in weight["note"]
    assert drop["note"] is None and drop["values"][1] == 0.0  # only 'b' is zero: not an all-zero panel
    assert rec["leaders"] == ["a"] and rec["tag"] == "top"
    xs0 = {k: torch.zeros_like(v) for k, v in xs.items()}
    r0 = stream_importance(Deaf(), (xs0, torch.zeros_like(y)))  # constant output: every drop is 0
    rec0 = _importance_plot(r0, tmp_path / "imp0.png")
    assert rec0["panels"][1]["note"].startswith("all streams exactly 0")


# ------------------------------------------------------------------------------------ progress
def test_progress_into_a_file_is_plain_lines_without_carriage_returns():
    buf = io.StringIO()  # not a terminal
    factory = _progress_factory(False, stream=buf)
    update = factory("gmu", 0)
    for epoch in range(1, 11):
        update(epoch, 12, 0.5)  # stops early at 10 of 12
    update.close()
    text = buf.getvalue()
    assert "\r" not in text and "\x1b" not in text
    lines = text.splitlines()
    assert lines == [f"  gmu seed 0: epoch {e}/12  val_acc 0.500" for e in (3, 6, 9, 10)]
    assert _progress_factory(True) is None


# ------------------------------------------------------------------------------------ --threads, help
def test_threads_option_is_checked_first_and_sets_torch_threads(tmp_path, monkeypatch, capsys):
    assert main(["train", "--threads", "0", "--save", str(tmp_path / "m.pt")]) == 2
    assert "--threads must be an integer >= 1" in capsys.readouterr().err
    calls = []
    monkeypatch.setattr(torch, "set_num_threads", calls.append)
    assert main(["bench", "--threads", "3", "--data", str(tmp_path / "missing"), "--out", str(tmp_path / "o")]) == 2
    assert calls == [3]
    for command in (["bench"], ["train"], ["sweep", "--stream", "rgb"]):
        assert build_parser().parse_args([*command, "--threads", "2"]).threads == 2


def test_help_says_where_sweep_writes_and_what_explain_loads():
    sub = build_parser()._subparsers._group_actions[0].choices
    assert "default: the data recorded in the checkpoint" in " ".join(sub["explain"].format_help().split())
    assert "default video" in " ".join(sub["bench"].format_help().split())
    assert "OUT/noise-<level>" in " ".join(sub["sweep"].format_help().split())


# ------------------------------------------------------------------------------------ sweep trend
@pytest.mark.parametrize("values, want", [
    ([-0.004, -0.01, -0.003, 0.0, 0.02], "no: rises"),  # issue 16: was reported as falling
    ([-0.004, -0.01, -0.003, 0.0, 0.01], "no: flat"),
    ([0.1, 0.1, 0.1], "no: flat"),
    ([0.1, 0.2, 0.3], "no: rises"),
    ([0.5, 0.3, 0.31, 0.1], "yes"),  # a step up within the tolerance
    ([0.5, 0.1, 0.4, 0.0], "no: not monotone"),
    ([0.5, None, 0.2], "yes"),
])
def test_sweep_trend_does_not_call_flat_or_rising_values_a_fall(values, want):
    from streamfuse.bench.sweep import is_monotone_falling, trend

    assert trend(values) == want
    assert is_monotone_falling(values) is (want == "yes")


# ------------------------------------------------------------------------------------ benchmark scripts
def test_cuda_check_on_a_cpu_only_install_says_so(capsys, monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert _script("benchmarks/cuda_check.py").main([]) == 2
    err = capsys.readouterr().err
    assert "no CUDA device" in err and "nothing was checked" in err


def test_bench_fusions_never_overwrites_a_report(tmp_path, capsys):
    mod = _script("benchmarks/bench_fusions.py")
    report = tmp_path / "cpu.md"
    report.write_text("kept")
    with pytest.raises(SystemExit) as exc:
        mod.main(["--quick", "--out", str(report)])
    assert exc.value.code == 2 and report.read_text() == "kept"
    assert "exist; nothing was overwritten" in capsys.readouterr().err
    assert "torchmultimodal" in mod.TMM_INSTALL and "--overwrite" in mod.build_parser().format_help()
