"""Two gloo processes on CPU under torchrun end with identical parameters, for every balance
recipe, and with the parameters one process reaches on the same data with twice the batch."""

import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from .test_loop import synthetic


NO_DROPOUT_KIND = "vector_no_dropout"


def no_dropout_encoder(in_channels: int, width: int):
    """The vector encoder without its dropout: each rank would draw its own dropout masks."""
    from streamfuse.training.encoders import VectorEncoder

    return VectorEncoder(in_channels, width, dropout=0.0)


def single_process_reference(balance: str, per_rank_batch: int, world: int = 2):
    """``(spec, streams, labels, cfg)`` of a run that DDP over ``world`` ranks with batch
    ``per_rank_batch`` each must reproduce in one process with batch ``world * per_rank_batch``.

    Exact only where nothing depends on the per-rank split: vector streams (LayerNorm encoders;
    BatchNorm would normalise each rank's half-batch with its own statistics), no dropout (the
    streams' kind is ``NO_DROPOUT_KIND``: register it with ``no_dropout_encoder``), and a
    training split of 102 samples (even, so DistributedSampler pads nothing and both ranks' last
    batches have the same size: the mean of the ranks' gradients is the whole batch's gradient).
    """
    from streamfuse.training import TrainConfig

    streams, labels, spec = synthetic(n=120)  # 18 validation samples, 102 for training
    streams = {k: streams[k] for k in ("a", "b")}
    spec = dict(spec, streams=["a", "b"], kinds={"a": NO_DROPOUT_KIND, "b": NO_DROPOUT_KIND},
                in_channels={"a": 6, "b": 4}, dropout=0.0)
    batch = per_rank_batch if torch.distributed.is_initialized() else world * per_rank_batch
    cfg = TrainConfig(epochs=3, batch_size=batch, seed=5, width=16, dropout=0.0, balance=balance)
    return spec, streams, labels, cfg


@pytest.fixture(scope="module")
def ddp_run(tmp_path_factory):
    """One torchrun launch (2 gloo ranks) of ``_ddp_script``; the folder of its saved weights."""
    out = tmp_path_factory.mktemp("ddp")
    root = Path(__file__).resolve().parents[2]
    # this checkout's src first: an editable install may point at another checkout
    env = dict(os.environ, OMP_NUM_THREADS="1", PYTHONPATH=os.pathsep.join([str(root / "src"), str(root)]))
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node", "2",
           "-m", "tests.training._ddp_script", str(out)]
    proc = subprocess.run(cmd, cwd=root, env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return out


def test_two_process_gloo_run_ends_with_identical_parameters(ddp_run):
    from streamfuse.training.balance import BALANCE

    for balance in sorted(BALANCE):
        r0 = torch.load(ddp_run / f"{balance}-rank0.pt", weights_only=True)
        r1 = torch.load(ddp_run / f"{balance}-rank1.pt", weights_only=True)
        assert r0["world"] == r1["world"] == 2
        assert r0["val"] == r1["val"], balance  # metrics were reduced across ranks
        for k in r0["state"]:
            assert torch.equal(r0["state"][k], r1["state"][k]), f"{balance}: {k} differs between ranks"


def test_ddp_trains_with_streams_left_out(ddp_run):
    r0, r1 = (torch.load(ddp_run / f"leave-out-rank{r}.pt", weights_only=True) for r in (0, 1))
    assert r0["left_out"] and r0["left_out"] == r1["left_out"]
    for k in r0["state"]:
        assert torch.equal(r0["state"][k], r1["state"][k]), k


def test_ddp_ranks_keep_the_same_schedule(ddp_run):
    r0, r1 = (torch.load(ddp_run / f"schedules-rank{r}.pt", weights_only=True) for r in (0, 1))
    assert [t["frozen_epochs"] for t in r0["balance"]["schedules"]] == [0, 1]
    assert r0["balance"] == r1["balance"]  # validation reduced across ranks: the same choice
    for k in r0["state"]:
        assert torch.equal(r0["state"][k], r1["state"][k]), k


@pytest.mark.parametrize("balance", ["none", "warmstart"])
def test_ddp_equals_one_process_with_the_whole_batch(ddp_run, balance, monkeypatch):
    from streamfuse.training import train_model
    from streamfuse.training.encoders import ENCODERS

    monkeypatch.setitem(ENCODERS, NO_DROPOUT_KIND, no_dropout_encoder)
    spec, streams, labels, cfg = single_process_reference(balance, per_rank_batch=16)
    assert cfg.batch_size == 32
    model, info = train_model(spec, streams, labels, cfg)
    ddp = torch.load(ddp_run / f"equiv-{balance}-rank0.pt", weights_only=True)
    assert ddp["val"] == info["val_accuracy"]
    state = model.state_dict()
    assert ddp["state"].keys() == state.keys()
    for k, v in state.items():
        # the two half-batch gradients are averaged by an all-reduce: same sum, other order
        torch.testing.assert_close(ddp["state"][k], v, rtol=1e-4, atol=1e-5, msg=f"{balance}: {k}")
