import pytest
import torch

import streamfuse

ALL_FUSIONS = streamfuse.list_fusions()


def is_token_level(name: str, **options) -> bool:
    return streamfuse.create_fusion(name, [8, 8], **options).token_level


def make_streams(in_dims, n=4, spatial=(2, 3, 3), seed=0, dtype=torch.float32):
    """Random streams: maps (N, C_i, *spatial), or vectors (N, C_i) when ``spatial`` is None."""
    g = torch.Generator().manual_seed(seed)
    shape = tuple(spatial) if spatial is not None else ()
    return [torch.randn((n, c) + shape, generator=g, dtype=dtype) for c in in_dims]


def streams_for(name, in_dims, n=4, seed=0):
    """Maps for token-level methods, vectors otherwise (what each method is meant to take)."""
    return make_streams(in_dims, n, spatial=(2, 3, 3) if is_token_level(name) else None, seed=seed)


@pytest.fixture
def one_thread():
    """Tiny tensors: intra-op threads only add overhead (and stall on a busy 2-core runner)."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(autouse=True)
def _seed():
    torch.manual_seed(0)


@pytest.fixture(autouse=True)
def _bench_in_process(monkeypatch):
    """`bench`/`sweep` default to 2 worker processes on 2+ cores; the tests' tiny models train in
    less time than a worker takes to start (the CLI tests ran 2x longer with workers), so they run
    in-process unless they pass --workers. tests/bench/test_workers.py checks the default itself."""
    import streamfuse.bench.workers

    monkeypatch.setattr(streamfuse.bench.workers, "default_workers", lambda device: 1)


def fit_dims(name, in_dims):
    """Trim ``in_dims`` to what method ``name`` accepts (``convex`` takes exactly two streams)."""
    cls = streamfuse.FUSIONS[name]
    return list(in_dims)[: cls.max_streams] if cls.max_streams else list(in_dims)


def partial_mask(n, s):
    """A bool (N, S) mask where every row keeps at least one stream and most rows drop some."""
    mask = torch.zeros(n, s, dtype=torch.bool)
    for r in range(n):
        mask[r, r % s] = True
        if r % 3 == 0:
            mask[r, (r + 1) % s] = True
    return mask
