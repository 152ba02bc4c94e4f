"""The README's examples run as written."""

import re
from pathlib import Path

import torch

import streamfuse

README = (Path(__file__).resolve().parents[1] / "README.md").read_text()


def _blocks():
    return re.findall(r"```python\n(.*?)```", README, flags=re.S)


def test_seed_head_example_runs_and_prints_what_it_says(capsys):
    code = re.search(r"<!-- readme-example -->\n```python\n(.*?)```", README, flags=re.S).group(1)
    assert len(code.strip().splitlines()) <= 10
    ns = {}
    exec(compile(code, "README.md", "exec"), ns)
    assert ns["scores"].shape == (8, 60)
    assert ns["weights"].shape == (8, 2, 17)
    torch.testing.assert_close(ns["weights"].mean(dim=(0, 2)).sum(), torch.tensor(1.0))


def test_add_a_method_example_registers_and_passes_the_mask_contract():
    code = [b for b in _blocks() if "register_fusion" in b][0]
    try:
        exec(compile(code, "README.md", "exec"), {})
        f = streamfuse.create_fusion("max", [3, 5], dim=4)
        xs = [torch.randn(2, 3), torch.randn(2, 5)]
        mask = torch.tensor([[True, False], [True, True]])
        junk = [xs[0], torch.randn(2, 5) * 100]
        torch.testing.assert_close(f(xs, mask=mask)[0], f(junk, mask=mask)[0])
    finally:
        streamfuse.FUSIONS.pop("max", None)
