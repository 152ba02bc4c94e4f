"""A bench's runs trained in parallel worker processes (``--workers``).

Why: the bench's models are small 3D CNNs whose convolutions gain little from a second intra-op
thread; on 2 cores two one-thread processes trained two models in 16 s where one two-thread
process took 23 s (BENCHMARKS.md, "Workers"). A run computes the same in a worker as in-process
at the same thread count (training is deterministic per seed and thread count), so the results
do not depend on how many workers ran them, and a folder resumes whatever the count.

Workers are spawned, not forked (a fork would copy torch's thread pools mid-use), receive the
bench settings and the loaded data once, and take the pending ``(method, seed)`` runs seed by
seed: the warm-start single-stream models of a seed are cached per process, so a worker reuses
them for its later runs of that seed. Runs are reported as they finish; the list returned is in
the serial order (method, then seed). If a run fails, the runs not started are cancelled, the
running ones stopped, and the error raised; every finished run is already on disk.
"""

from __future__ import annotations

import multiprocessing
import os
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path

from ..errors import StreamFuseError

_STATE: dict = {}  # in a worker: the bench settings and data, set once by _start


def under_torchrun() -> bool:
    return int(os.environ.get("WORLD_SIZE", "1")) > 1


def default_workers(device: str) -> int:
    """2 on a CPU with 2 or more cores (two one-thread processes trained the bench's models 1.4x
    faster than one two-thread process), else 1; 1 on CUDA and under torchrun (DDP)."""
    return 1 if device == "cuda" or under_torchrun() else min(2, os.cpu_count() or 1)


def worker_threads(workers: int, threads: int | None) -> int:
    """Torch threads per worker: ``threads`` if given, else the cores shared out (at least 1)."""
    return threads if threads is not None else max(1, (os.cpu_count() or 1) // workers)


def _start(bench, data, threads: int) -> None:
    import torch

    torch.set_num_threads(threads)
    _STATE.update(bench=bench, data=data)


def _train(method: str, seed: int) -> dict:
    from .runner import run_one

    return run_one(_STATE["bench"], _STATE["data"], method, seed)


def train_in_workers(bench, data, methods: list[str], on_run=None) -> list[dict]:
    """``run_bench`` with ``bench.workers`` processes of ``worker_threads(...)`` threads each."""
    from .runner import load_run, run_key, run_path

    out = Path(bench.out)
    runs: dict[tuple[str, int], dict] = {}
    pending = []
    for seed in range(bench.seeds):
        for method in methods:
            run = load_run(run_path(out, method, seed), run_key(bench, method, seed))
            if run is None:
                pending.append((method, seed))
            else:
                runs[(method, seed)] = run
                if on_run is not None:
                    on_run(run, True)
    if pending:
        pool = ProcessPoolExecutor(
            min(bench.workers, len(pending)), mp_context=multiprocessing.get_context("spawn"),
            initializer=_start, initargs=(bench, data, worker_threads(bench.workers, bench.threads)),
        )
        futures = {pool.submit(_train, method, seed): (method, seed) for method, seed in pending}
        try:
            left = set(futures)
            while left:
                done, left = wait(left, return_when=FIRST_COMPLETED)  # report each run as it finishes
                for future in sorted(done, key=lambda f: pending.index(futures[f])):
                    try:
                        run = future.result()  # raises the worker's error
                    except BrokenProcessPool:
                        method, seed = futures[future]
                        raise StreamFuseError(
                            f"a worker process ended abruptly (out of memory, or killed) while training {method} seed {seed} "
                            f"or a run beside it; the finished runs are kept in {str(out)!r}: rerun with --workers 1 "
                            f"to train one run at a time in this process"
                        ) from None
                    runs[futures[future]] = run
                    if on_run is not None:
                        on_run(run, False)
        except BaseException:
            # stop now rather than wait for the running trainings (Ctrl-C, or another run failed);
            # the executor has no public way to stop a running task, so its processes are ended
            processes = list((getattr(pool, "_processes", None) or {}).values())  # before shutdown clears it
            pool.shutdown(wait=False, cancel_futures=True)
            for process in processes:
                process.terminate()
            raise
        pool.shutdown()
    return [runs[(method, seed)] for method in methods for seed in range(bench.seeds)]
