"""Two gloo processes on CPU under torchrun end with identical parameters, for every balance recipe."""

import os
import subprocess
import sys
from pathlib import Path

import torch


def test_two_process_gloo_run_ends_with_identical_parameters(tmp_path):
    root = Path(__file__).resolve().parents[2]
    env = dict(os.environ, OMP_NUM_THREADS="1", PYTHONPATH=str(root))
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node", "2",
           "-m", "tests.training._ddp_script", str(tmp_path)]
    proc = subprocess.run(cmd, cwd=root, env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    from streamfuse.training.balance import BALANCE

    for balance in sorted(BALANCE):
        r0 = torch.load(tmp_path / f"{balance}-rank0.pt", weights_only=True)
        r1 = torch.load(tmp_path / f"{balance}-rank1.pt", weights_only=True)
        assert r0["world"] == r1["world"] == 2
        assert r0["val"] == r1["val"], balance  # metrics were reduced across ranks
        for k in r0["state"]:
            assert torch.equal(r0["state"][k], r1["state"][k]), f"{balance}: {k} differs between ranks"
