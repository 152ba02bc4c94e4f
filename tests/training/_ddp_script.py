"""Run by test_ddp.py under `torchrun --nproc-per-node 2`: train, then dump this rank's weights."""

import sys

import torch
import torch.distributed as dist

from streamfuse.training import TrainConfig, train_model
from streamfuse.training.balance import BALANCE
from streamfuse.training.encoders import ENCODERS

from .test_ddp import NO_DROPOUT_KIND, no_dropout_encoder, single_process_reference
from .test_loop import synthetic  # run with -m, so the package imports work

out = sys.argv[1]
streams, labels, spec = synthetic(n=96)
for balance in sorted(BALANCE):  # every recipe's extra step (OGM's all-reduced confidences) too
    model, info = train_model(spec, streams, labels, TrainConfig(epochs=3, batch_size=16, seed=3, width=16, balance=balance))
    rank = dist.get_rank()
    torch.save({"state": model.state_dict(), "world": dist.get_world_size(), "val": info["val_accuracy"]}, f"{out}/{balance}-rank{rank}.pt")
# Streams left out (>= 30 validation samples) with per-stream losses through the fused head: no
# pass reads the left-out encoders' values (masks zero them), yet every rank must agree.
streams240, labels240, _ = synthetic(n=240)
model, info = train_model(spec, streams240, labels240, TrainConfig(epochs=1, batch_size=16, seed=3, width=16, balance="masked"))
torch.save({"state": model.state_dict(), "left_out": info["left_out"]}, f"{out}/leave-out-rank{dist.get_rank()}.pt")
# A deep head under masked trains two schedules and keeps one: every rank must keep the same.
model, info = train_model(dict(spec, method="transformer"), streams, labels, TrainConfig(epochs=3, batch_size=16, seed=3, width=16, balance="masked"))
torch.save({"state": model.state_dict(), "balance": info["balance"]}, f"{out}/schedules-rank{dist.get_rank()}.pt")
# The same training as one process with twice the batch (``single_process_reference`` in
# test_ddp.py): per-rank batches of 16 from DistributedSampler are the two halves of a 32-batch.
ENCODERS[NO_DROPOUT_KIND] = no_dropout_encoder
for balance in ("none", "warmstart"):
    spec, streams, labels, cfg = single_process_reference(balance, per_rank_batch=16)
    model, info = train_model(spec, streams, labels, cfg)
    torch.save({"state": model.state_dict(), "val": info["val_accuracy"]}, f"{out}/equiv-{balance}-rank{dist.get_rank()}.pt")
# Both ranks finish writing before either tears the gloo group down: destroying it while the peer
# still holds the connection is the likely cause of one rank abort seen on a loaded 2-core machine.
dist.barrier()
dist.destroy_process_group()
