"""The README as a script: every python block runs, every bash block is run, parsed, or marked skip."""

import importlib.util
import re
import shlex
import sys
from pathlib import Path

import pytest
import torch

import streamfuse

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text()
BLOCK = re.compile(r"(?:<!-- readme-test: (\w+)[^\n]*-->\n)?```(\w+)\n(.*?)```", flags=re.S)


def _blocks(lang):
    """``(mark, code)`` of every block in ``lang``; mark is run/parse/skip or None."""
    return [(m.group(1), m.group(3)) for m in BLOCK.finditer(README) if m.group(2) == lang]


def _script(name):
    spec = importlib.util.spec_from_file_location(f"_readme_{Path(name).stem}", ROOT / name)
    mod = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = mod  # dataclasses in the script look their module up
    spec.loader.exec_module(mod)
    return mod


def test_seed_head_example_runs_and_prints_what_it_says(capsys):
    code = re.search(r"<!-- readme-example -->\n```python\n(.*?)```", README, flags=re.S).group(1)
    assert len(code.strip().splitlines()) <= 10
    ns = {}
    exec(compile(code, "README.md", "exec"), ns)
    assert ns["scores"].shape == (8, 60)
    assert ns["weights"].shape == (8, 2, 17)
    torch.testing.assert_close(ns["weights"].mean(dim=(0, 2)).sum(), torch.tensor(1.0))


def test_add_a_method_example_registers_and_passes_the_mask_contract():
    code = [c for _, c in _blocks("python") if "register_fusion" in c][0]
    try:
        exec(compile(code, "README.md", "exec"), {})
        f = streamfuse.create_fusion("max", [3, 5], dim=4)
        xs = [torch.randn(2, 3), torch.randn(2, 5)]
        mask = torch.tensor([[True, False], [True, True]])
        junk = [xs[0], torch.randn(2, 5) * 100]
        torch.testing.assert_close(f(xs, mask=mask)[0], f(junk, mask=mask)[0])
    finally:
        streamfuse.FUSIONS.pop("max", None)


def test_every_python_block_runs_in_order_as_a_new_user_would(tmp_path, monkeypatch, capsys):
    """Own data -> `streamfuse train --data my_data --save model.pt` -> load_trained -> stream_importance."""
    from streamfuse.cli import main
    from streamfuse.data import load_data

    monkeypatch.chdir(tmp_path)
    blocks = [c for _, c in _blocks("python")]
    assert len(blocks) >= 4 and all(mark is None for mark, _ in _blocks("python"))  # no python block is skipped
    ns = {}
    try:
        for code in blocks:
            if "RecognizerStreams(" in code:  # needs an MMAction2 recognizer: test_mmaction_block_runs
                continue
            if "load_trained(" in code:  # the README's step before it: train on the folder just written
                assert "streamfuse train --data my_data --save model.pt" in README
                assert main(["train", "--data", "my_data", "--save", "model.pt", "--epochs", "2", "--width", "8", "--quiet"]) == 0
            exec(compile(code, "README.md", "exec"), ns)
    finally:
        streamfuse.FUSIONS.pop("max", None)
    data = load_data("my_data")
    assert data.stream_names == ["rgb", "flow"] and data.kinds == {"rgb": "video", "flow": "vector"}
    assert data.class_names == ["walk", "run", "jump"] and len(data.train) + len(data.test) == 200
    report = ns["report"]
    assert report.streams == ["rgb", "flow"] and report.num_rows == len(data.test)
    assert report.verdict in capsys.readouterr().out


def test_every_bash_block_says_how_the_tests_treat_it():
    marks = [mark for mark, _ in _blocks("bash")]
    assert marks and all(m in ("run", "parse", "skip") for m in marks), marks


def _commands(code):
    for line in code.splitlines():
        words = shlex.split(line, comments=True)
        if words:
            yield words


def test_bash_blocks_marked_parse_are_valid_commands_and_cheap_ones_run(capsys):
    from streamfuse.cli import build_parser, main

    parsed = 0
    for mark, code in _blocks("bash"):
        if mark not in ("parse", "run"):
            continue
        for words in _commands(code):
            if words[0] == "streamfuse":
                args = build_parser().parse_args(words[1:])  # exits (fails the test) on an unknown option
                parsed += 1
                if mark == "run" or args.command == "list":
                    assert main(words[1:]) == 0
            else:
                assert words[0] == "python" and (ROOT / words[1]).is_file(), words
                _script(words[1]).build_parser().parse_args(words[2:])
                parsed += 1
    assert parsed >= 10
    out = capsys.readouterr().out
    assert "fusion methods:" in out and "datasets:" in out  # `streamfuse list` ran


def test_the_test_command_prints_a_summary():
    """`-q` twice (pyproject addopts + command line) is `-qq`, which drops the "N passed" line."""
    found = re.search(r'^addopts\s*=\s*"(.*)"', (ROOT / "pyproject.toml").read_text(), flags=re.M)
    addopts = found.group(1) if found else ""
    (command,) = [c for m, c in _blocks("bash") if "pytest" in c]
    ci = [line for line in (ROOT / ".ci" / "run").read_text().splitlines() if "pytest" in line and not line.startswith("#")]
    for cmd in [command.strip(), *ci]:
        words = shlex.split(addopts) + shlex.split(cmd)
        quiet = sum(w.count("q") for w in words if re.fullmatch(r"-q+", w))
        assert quiet <= 1, (addopts, cmd)


def test_sweep_output_and_explain_data_default_are_documented(capsys):
    from streamfuse.cli import build_parser

    sub = build_parser()._subparsers._group_actions[0].choices
    explain = sub["explain"].format_help()
    assert "default: the data recorded in the checkpoint" in " ".join(explain.split())
    sweep = " ".join(sub["sweep"].format_help().split())
    assert "runs/sweep" in sweep and "sweep.csv" in sweep and "noise-" in sweep
    assert "runs/sweep/" in README


@pytest.mark.parametrize("path", ["README.md", "src/streamfuse/cli.py"])
def test_one_default_bench_time_figure_with_its_machine(path):
    """README and `--help` quote the default-bench time that BENCHMARKS.md measured, with its machine."""
    import re

    from streamfuse.cli import build_parser

    measured = re.search(r"the default `streamfuse bench` .{0,80}?took \*\*([^*]+)\*\*", " ".join((ROOT / "BENCHMARKS.md").read_text().split()))
    assert measured, "BENCHMARKS.md must state the default bench time as 'the default `streamfuse bench` ... took **T**'"
    text = (ROOT / path).read_text()
    if path.endswith(".py"):
        text += build_parser().format_help()
    text = " ".join(text.split())
    assert "about a minute" not in text and "about 3 minutes" not in text
    assert measured[1] in text and "2 " in text and "cores" in text


def test_mmaction_block_runs_on_a_small_recognizer():
    """The README's `RecognizerStreams` snippet, with `model`, `imgs`, `heatmap_imgs`, `labels` from
    the integration tests' reduced RGBPoseConv3D."""
    pytest.importorskip("mmaction")
    from tests.integrations.test_mmaction import build, clips

    (code,) = [c for _, c in _blocks("python") if "RecognizerStreams(" in c]
    inputs, _, labels = clips(n=6)
    ns = {"streamfuse": streamfuse, "model": build(), "imgs": inputs["imgs"][:, 0],
          "heatmap_imgs": inputs["heatmap_imgs"][:, 0], "labels": labels}
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        exec(compile(code, "README.md", "exec"), ns)
    finally:
        torch.set_num_threads(before)
    assert ns["report"].streams == ["rgb", "pose"]
