"""Benchmark every registered streamfuse fusion: time, forward memory, and ratios to baselines.

    python benchmarks/bench_fusions.py --out runs/perf/cpu.md      # full run (< 10 min, 2 cores)
    python benchmarks/bench_fusions.py --quick                      # reduced set (< 2 min), stdout only
    python benchmarks/bench_fusions.py --device cuda --out runs/perf/cuda.md

Writes markdown tables to stdout and to ``--out`` (and the same numbers as JSON next to it, or to
``--json``); an existing report is never overwritten unless ``--overwrite`` is given (the
committed tables in ``benchmarks/results/`` are refreshed deliberately, with ``--overwrite``).
Every method is compared with

(a) a hand-written reference of the same math with the same parameters (``references.py``; its
    output is checked against the method's before timing: column ``ref Δ``),
(b) the memory-bound floor for a weighted sum of S streams: the fastest of several ways to read
    the S*N*D inputs once and write N*D (eager ``bmm`` on the stacked streams, a loop of
    ``addcmul_`` over the list, and ``torch.compile``d ``(w[None, :, None] * X).sum(1)`` on the
    stacked streams and ``sum_i w[i] * x_i`` on the list),
(c) torchmultimodal's ``AttentionFusionModule`` / ``ConcatFusionModule`` at equal widths, when
    ``torchmultimodal`` is importable (``pip install --no-deps torchmultimodal-nightly``; never a
    streamfuse dependency; the column is skipped otherwise),
(d) ``torch.compile(fusion, fullgraph=True)`` of the method itself (inductor).

Definitions (also printed into the report):

- time: ``torch.utils.benchmark.Timer.blocked_autorange`` median with ``--threads`` intra-op
  threads (default 1; see ``--threads``); with several rounds, the lowest round median (the least
  disturbed on a shared machine); a call longer than ``--min-run-time`` is timed as single calls.
  ``fwd``: inference,
  ``eval()`` under ``no_grad``. ``fwd+bwd``: ``train()`` forward, then ``torch.autograd.grad`` of
  the output (ones) w.r.t. every parameter and every input stream (streams require grad, as they
  do when a backbone is trained through the fusion).
- forward memory: the peak of bytes held by tensors allocated during one training-mode forward
  (grad enabled, so the activations kept for backward count), not counting inputs and
  parameters. CPU: replayed from the allocator events recorded by ``torch.profiler``
  (``profile_memory=True``); CUDA: ``max_memory_allocated`` over the call. ``retained``: what is
  still held when forward returns (output + saved activations). ``infer``: the same peak under
  ``no_grad``. The floor's forward memory is its output, ``N*D*itemsize`` (the measured peak of
  the floor candidates in the ``floor`` table); the memory target divides by that.
- work: forward FLOPs counted by ``torch.utils.flop_counter.FlopCounterMode`` (matrix products).
  ``×TMM/work`` = (time ratio to ``AttentionFusionModule``) / (FLOP ratio), i.e. time per unit of
  work relative to torchmultimodal's.
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import importlib.metadata
import importlib.util
import json
import math
import os
import platform
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import torch
from torch import nn
from torch.utils.benchmark import Timer
from torch.utils.flop_counter import FlopCounterMode

import streamfuse

sys.path.insert(0, str(Path(__file__).resolve().parent))
from references import build_reference  # noqa: E402

WEIGHTING = ("scalar", "convex", "channel", "adaptive", "attention", "gmu", "selective")
MIB = 2**20


# ------------------------------------------------------------------------------------ environment
def machine_info(device: str) -> dict:
    cpu = platform.processor() or "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    info = {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "torch": torch.__version__,
        "python": platform.python_version(),
        "platform": platform.platform(),
        "streamfuse": streamfuse.__version__,
        "device": device,
        "torchmultimodal": ((_dist_version("torchmultimodal-nightly") or _dist_version("torchmultimodal"))
                            if TMM else f"not installed (column skipped; {TMM_INSTALL})"),
        "load average at start (1, 5, 15 min)": " ".join(f"{v:.2f}" for v in os.getloadavg()),
    }
    if device == "cuda":
        info["gpu"] = torch.cuda.get_device_name()
    return info


def _dist_version(name: str) -> str | None:
    try:
        return importlib.metadata.version(name)
    except importlib.metadata.PackageNotFoundError:
        return None


TMM_INSTALL = "pip install --no-deps torchmultimodal-nightly"  # its two fusion modules need torch only


def _load_torchmultimodal():
    """``(AttentionFusionModule, ConcatFusionModule)`` or None when torchmultimodal is absent.

    The two modules only need torch; they are loaded from their files so that the package's
    ``__init__`` (which imports iopath, not installed with ``--no-deps``) does not run.
    """
    try:
        spec = importlib.util.find_spec("torchmultimodal")
    except (ImportError, ValueError):
        return None
    if spec is None or not spec.submodule_search_locations:
        return None
    classes = []
    for mod, cls in (("attention_fusion", "AttentionFusionModule"), ("concat_fusion", "ConcatFusionModule")):
        path = Path(spec.submodule_search_locations[0]) / "modules" / "fusions" / f"{mod}.py"
        try:
            mspec = importlib.util.spec_from_file_location(f"_tmm_{mod}", path)
            module = importlib.util.module_from_spec(mspec)
            mspec.loader.exec_module(module)
            classes.append(getattr(module, cls))
        except Exception as exc:  # a broken or changed install: skip the column, say why
            print(f"torchmultimodal found but {cls} could not be loaded ({exc!r}); skipping that column")
            return None
    return tuple(classes)


TMM = _load_torchmultimodal()


class TMMAdapter(nn.Module):
    """Call a torchmultimodal fusion (dict input) with a list of streams, pooling maps first."""

    def __init__(self, module: nn.Module, names: list[str]) -> None:
        super().__init__()
        self.module, self.names = module, names

    def forward(self, xs):
        return self.module({k: x.flatten(2).mean(-1) if x.dim() > 2 else x for k, x in zip(self.names, xs)})


def tmm_modules(in_dims, dim, device) -> dict[str, nn.Module]:
    if TMM is None:
        return {}
    attention_cls, concat_cls = TMM
    names = [f"s{i:02d}" for i in range(len(in_dims))]  # zero-padded: TMM sorts the keys
    attn = attention_cls(dict(zip(names, in_dims)), encoding_projection_dim=dim)
    concat = concat_cls(projection=nn.Linear(sum(in_dims), dim))
    return {"attention": TMMAdapter(attn, names).to(device), "concat": TMMAdapter(concat, names).to(device)}


# ------------------------------------------------------------------------------------ measuring
@dataclass
class Settings:
    device: str
    min_run_time: float
    rounds: int
    compile: bool


def sync(device: str) -> None:
    if device == "cuda":
        torch.cuda.synchronize()


def median_time(fn, s: Settings) -> float:
    """Seconds: the lowest of ``s.rounds`` blocked_autorange medians, after one warm-up call.

    A call that alone takes longer than ``min_run_time`` is timed as ``s.rounds`` single calls
    (lowest reported): blocked_autorange would spend an extra call sizing its blocks.
    """
    t0 = time.perf_counter()
    fn()
    sync(s.device)
    heavy = time.perf_counter() - t0 > s.min_run_time
    timer = Timer("fn()", globals={"fn": fn}, num_threads=torch.get_num_threads())
    if heavy:
        return min(timer.timeit(1).median for _ in range(s.rounds))
    return min(timer.blocked_autorange(min_run_time=s.min_run_time).median for _ in range(s.rounds))


@contextlib.contextmanager
def _quiet_stderr():
    """Silence the profiler's C++ start/stop lines (written straight to file descriptor 2)."""
    sys.stderr.flush()
    saved = os.dup(2)
    try:
        with open(os.devnull, "w") as devnull:
            os.dup2(devnull.fileno(), 2)
            yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)


def forward_memory(fn, device: str) -> tuple[int, int]:
    """``(peak, retained)`` bytes allocated by ``fn()`` (see the module docstring)."""
    gc.collect()
    if device == "cuda":
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
        base = torch.cuda.memory_allocated()
        out = fn()
        torch.cuda.synchronize()
        peak, retained = torch.cuda.max_memory_allocated() - base, torch.cuda.memory_allocated() - base
        del out
        return peak, retained
    from torch.profiler import ProfilerActivity, profile

    with _quiet_stderr(), profile(activities=[ProfilerActivity.CPU], profile_memory=True) as prof:
        out = fn()
    events = sorted(
        (e.start_ns(), e.nbytes()) for e in prof.profiler.kineto_results.events() if e.name() == "[memory]"
    )
    del out
    live = peak = 0
    for _, nbytes in events:
        live += nbytes
        peak = max(peak, live)
    return peak, live


def forward_flops(fn) -> int:
    with FlopCounterMode(display=False) as counter:
        fn()
    return counter.get_total_flops()


def make_streams(in_dims, n, spatial, device, seed=0):
    g = torch.Generator().manual_seed(seed)
    return [torch.randn(n, c, *spatial, generator=g).to(device).requires_grad_() for c in in_dims]


@dataclass
class Result:
    fwd: float | None = None
    fb: float | None = None
    peak: int | None = None
    retained: int | None = None
    infer_peak: int | None = None
    flops: int | None = None
    compile_s: float | None = None
    stacked_input: bool | None = None  # floor candidates: reads the pre-stacked (N, S, D) copy

    def as_dict(self) -> dict:
        return {k: v for k, v in vars(self).items() if v is not None}


def measure(module_or_fn, xs, s: Settings, *, time_fwd=True, time_fb=True, memory=True, flops=False,
            params=None, eval_module=None) -> Result:
    """Time ``module_or_fn(xs)`` forward (inference) and forward+backward, and its forward memory.

    ``eval_module``: the nn.Module whose train/eval mode to switch (for compiled wrappers).
    ``params``: tensors to differentiate besides ``xs`` (default: the module's parameters).
    """
    f = module_or_fn
    owner = eval_module if eval_module is not None else (f if isinstance(f, nn.Module) else None)
    if params is None:
        params = [p for p in owner.parameters() if p.requires_grad] if owner is not None else []
    targets = list(params) + list(xs)
    r = Result()
    with torch.no_grad():
        grad_out = f(xs).detach().clone().fill_(1.0)

    def fwd():
        with torch.no_grad():
            return f(xs)

    def fb():
        out = f(xs)
        return torch.autograd.grad(out, targets, grad_out, allow_unused=True)

    def set_mode(train: bool):
        if owner is not None:
            owner.train(train)

    if time_fwd:
        set_mode(False)
        r.fwd = median_time(fwd, s)
        if memory:
            r.infer_peak = forward_memory(fwd, s.device)[0]
    set_mode(True)
    if time_fb:
        r.fb = median_time(fb, s)
    if memory:
        f(xs)  # warm (a compiled module compiles its training graph here)
        r.peak, r.retained = forward_memory(lambda: f(xs), s.device)
    if flops:
        with torch.no_grad():
            r.flops = forward_flops(lambda: f(xs))
    return r


def compiled(module: nn.Module, xs, s: Settings):
    """``torch.compile(module, fullgraph=True)`` plus the seconds its two graphs took to build."""
    torch._dynamo.reset()  # every fusion shares Fusion.forward: keep one method's graphs at a time
    cm = torch.compile(module, fullgraph=True, dynamic=False)
    t0 = time.perf_counter()
    module.eval()
    with torch.no_grad():
        cm(xs)
    module.train()
    out = cm(xs)
    torch.autograd.grad(out, [x for x in xs], torch.ones_like(out), allow_unused=True)
    sync(s.device)
    return cm, time.perf_counter() - t0


# ------------------------------------------------------------------------------------ the floor
def floor_candidates(s: Settings, num_streams: int | None = None) -> dict:
    """Ways to compute ``sum_i w[i] * x_i`` that read each input once, from the list ``xs`` or from
    the pre-stacked ``X (N, S, D)``. Each function takes ``(xs, X, w)``. With ``num_streams=2``
    also ``lerp``, valid because the floor's weights are a softmax (they sum to one): a single
    pass that writes the output once, where the ``addcmul_`` chain writes it and reads it back."""

    def bmm(xs, X, w):
        return torch.bmm(w.expand(X.shape[0], -1).unsqueeze(1), X).squeeze(1)

    def loop(xs, X, w):
        out = xs[0] * w[0]
        for i in range(1, len(xs)):
            out = out.addcmul_(xs[i], w[i])
        return out

    def stacked(xs, X, w):
        return (w[None, :, None] * X).sum(1)

    def listed(xs, X, w):
        out = xs[0] * w[0]
        for i in range(1, len(xs)):
            out = out + xs[i] * w[i]
        return out

    def lerp(xs, X, w):
        return torch.lerp(xs[1], xs[0], w[0])

    # name -> (function, reads the pre-stacked X rather than the list xs)
    cands = {"eager bmm(X)": (bmm, True), "eager addcmul loop(xs)": (loop, False)}
    if num_streams == 2:
        cands["eager lerp(xs) (S=2)"] = (lerp, False)
    if s.compile:
        cands["compiled (w*X).sum(1)"] = (torch.compile(stacked, fullgraph=True, dynamic=False), True)
        cands["compiled sum w_i*x_i (xs)"] = (torch.compile(listed, fullgraph=True, dynamic=False), False)
    return cands


def measure_floor(xs, s: Settings) -> dict:
    """Time/memory of every floor candidate on streams ``xs``; the floor is the fastest."""
    X = torch.stack([x.detach() for x in xs], dim=1).requires_grad_()
    w = torch.softmax(torch.randn(len(xs), device=xs[0].device), 0).requires_grad_()
    out = {}
    for name, (fn, stacked_input) in floor_candidates(s, len(xs)).items():
        inputs = [X] if stacked_input else list(xs)
        out[name] = measure(lambda _xs, fn=fn: fn(xs, X, w), [], s, params=[w] + inputs)
        out[name].stacked_input = stacked_input
    return out


# ------------------------------------------------------------------------------------ cases
@dataclass
class Case:
    group: str
    method: str
    in_dims: list
    n: int
    spatial: tuple = ()
    options: dict = field(default_factory=dict)
    dim: int | None = None
    ref: bool = True
    tmm: bool = False
    compile: bool = False
    time_fwd: bool = True
    ref_fwd: bool = False  # also time the reference's inference forward

    @property
    def label(self) -> str:
        opts = ",".join(f"{k}={v}" for k, v in self.options.items())
        return f"{self.method}" + (f" ({opts})" if opts else "")


def run_case(case: Case, s: Settings, log, tmm_cache: dict) -> dict:
    torch.manual_seed(0)
    fusion = streamfuse.create_fusion(case.method, case.in_dims, case.dim, **case.options).to(s.device)
    xs = make_streams(case.in_dims, case.n, case.spatial, s.device)
    d = fusion.dim
    row = {"group": case.group, "method": case.method, "label": case.label, "options": case.options,
           "in_dims": case.in_dims, "S": len(case.in_dims), "N": case.n, "D": d, "spatial": list(case.spatial),
           "params": sum(p.numel() for p in fusion.parameters()),
           "floor_bytes": case.n * d * xs[0].element_size()}
    row["ours"] = measure(fusion, xs, s, time_fwd=case.time_fwd, flops=case.tmm).as_dict()
    if case.ref:
        ref = build_reference(fusion)
        if ref is not None:
            ref = ref.to(s.device)
            with torch.no_grad():
                row["ref_max_abs_diff"] = (ref(xs) - fusion(xs)).abs().max().item()
            assert sum(p.numel() for p in ref.parameters()) == row["params"], "reference parameter count differs"
            row["ref"] = measure(ref, xs, s, time_fwd=case.ref_fwd).as_dict()
    if case.compile and s.compile:
        cm, secs = compiled(fusion, xs, s)
        r = measure(cm, xs, s, eval_module=fusion, time_fwd=case.time_fwd)
        r.compile_s = secs
        row["compiled"] = r.as_dict()
        torch._dynamo.reset()
    if case.tmm and TMM is not None:
        # measured once per shape (the cache), and ConcatFusionModule only next to our concat
        cached = tmm_cache.setdefault((tuple(case.in_dims), case.n, case.spatial, d), {})
        for kind, module in tmm_modules(case.in_dims, d, s.device).items():
            key = f"tmm_{kind}"
            if kind == "concat" and case.method != "concat":
                continue
            if key not in cached:
                cached[key] = measure(module, xs, s, time_fwd=False, flops=True).as_dict()
            row[key] = cached[key]
    log(_progress(row))
    return row


def _progress(row) -> str:
    parts = [f"{row['group']:>10s} {row['label']:<40s}"]
    for key in ("ours", "ref", "compiled", "tmm_attention", "tmm_concat"):
        if key in row and row[key].get("fb") is not None:
            parts.append(f"{key}={row[key]['fb'] * 1e3:.2f}ms")
    return "  ".join(parts)


def pooled_methods():
    return [m for m in streamfuse.list_fusions() if not streamfuse.FUSIONS[m].token_level]


def build_cases(quick: bool) -> dict[str, tuple[str, list[Case]]]:
    """The benchmark plan: group name -> (title, cases). ``quick`` keeps a subset of each group."""
    pooled = pooled_methods()
    groups = {}
    # 1-2. pooled streams at realistic widths: references, torch.compile and torchmultimodal.
    big = [m for m in pooled if m in WEIGHTING + ("concat",)] if quick else pooled
    # torch.compile at C=[2048, 512] only for four weighting methods: there the GEMMs dominate and a
    # compiled graph changes little, while each cold inductor compile costs ~10 s on 2 cores.
    compile_big = ("scalar", "channel", "attention", "adaptive")
    groups["pooled-L"] = ("Pooled streams, N=256, C=[2048, 512] (D=2048)",
                          [Case("pooled-L", m, [2048, 512], 256, tmm=True, compile=not quick and m in compile_big)
                           for m in big])
    # 2b. the width torchmultimodal users pick for a head (D=512 < C_1): there TMM's module only
    # projects, while ours also scores the projected streams, so time is compared as it is.
    groups["pooled-M"] = ("Pooled streams, N=256, C=[2048, 512], D=512 (attention vs TMM AttentionFusionModule)",
                          [Case("pooled-M", m, [2048, 512], 256, options=o, dim=512, tmm=True)
                           for m, o in (("attention", {}), ("attention", {"scorer": "mlp"}),
                                        ("attention", {"scorer": "query"}), ("scalar", {}), ("channel", {}),
                                        ("concat", {}))])
    groups["pooled-S"] = ("Pooled streams, N=256, C=[17, 3] (D=17; transformer D=20)",
                          [Case("pooled-S", m, [17, 3], 256, tmm=True, compile=m in WEIGHTING and (not quick or m == "scalar"))
                           for m in pooled])
    # 3. token maps (N, C, T, H, W): token-level methods, and pooled methods given maps (they pool first).
    t = 2 if quick else 8
    on_maps = ["scalar", "attention"] if quick else [m for m in pooled if m != "transformer"]
    groups["maps"] = (
        f"Token maps, N=32, C=[256, 64], (T, H, W)=({t}, 7, 7) (D=256; pooled methods average-pool the maps; "
        f"transformer tokens mode has no timed reference: a naive encoder over {2 * 49 * t + 1} tokens costs minutes here)",
        [Case("maps", m, [256, 64], 32, (t, 7, 7)) for m in on_maps]
        + [Case("maps", "cross_attention", [256, 64], 32, (t, 7, 7)),
           Case("maps", "transformer", [256, 64], 32, (t, 7, 7), {"mode": "tokens"}, ref=False)])
    # 4. scaling with the number of streams S (equal widths 512).
    s_values = (2, 16) if quick else (2, 4, 8, 16)
    scaled = ["scalar", "channel", "attention", "sum"] if quick else pooled
    groups["streams"] = (
        "Scaling with the number of streams S (N=256, every C_i=512, D=512; default options: "
        "sum/mean/scalar/channel/attention/selective do not project equal-width streams, they only normalise them)",
        [Case("streams", m, [512] * s, 256, time_fwd=False, ref=m in WEIGHTING and s in (s_values[0], s_values[-1]))
         for s in s_values for m in scaled if not (m == "convex" and s != 2)])
    # 5. pre-projected equal-width streams: pure weighted sums against the memory-bound floor.
    groups["floor"] = (
        "Pre-projected streams (project=False, stream_norm=False), N=256, D=512: pure weighted sums vs the floor",
        [Case("floor", m, [512] * s, 256, options={"project": False, "stream_norm": False}, compile=True, ref_fwd=True)
         for s in s_values for m in ("scalar", "channel")])
    # 6. scaling with batch N.
    n_values = (64, 1024) if quick else (64, 256, 1024, 4096)
    by_n = ("scalar", "attention") if quick else ("concat", "scalar", "channel", "attention", "adaptive", "gmu", "selective")
    groups["batch"] = ("Scaling with batch N (C=[512, 128], D=512)",
                       [Case("batch", m, [512, 128], n, time_fwd=False, ref=False) for n in n_values for m in by_n])
    # 7. cross_attention token-count scaling: (N=8, C, T, 7, 7), L = 49 T tokens per stream.
    t_values = (1, 4) if quick else (1, 2, 4, 8, 16)
    groups["tokens"] = ("cross_attention token-count scaling (N=8, C=[256, 64], maps (T, 7, 7), D=256); "
                        "ref = explicit softmax(q k^T) v attention",
                        [Case("tokens", "cross_attention", [256, 64], 8, (t, 7, 7)) for t in t_values])
    return groups


def attach_floor(row, case: Case, s: Settings, cache: dict) -> None:
    """Add the floor for this row's (S, N, D) (measured once per shape) to ``row``."""
    key = (len(case.in_dims), case.n, case.in_dims[0])
    if key not in cache:
        cands = measure_floor(make_streams(case.in_dims, case.n, (), s.device), s)
        best = min(cands, key=lambda k: cands[k].fwd)
        best_fb = min(cands, key=lambda k: cands[k].fb)
        # the fused modules take a list of streams: the fastest candidate that reads the same list
        # (no pre-stacked (N, S, D) copy) is the floor for that input, reported beside the overall one
        listed = [k for k in cands if not cands[k].stacked_input]
        best_list = min(listed, key=lambda k: cands[k].fwd)
        best_list_fb = min(listed, key=lambda k: cands[k].fb)
        cache[key] = {"candidates": {k: v.as_dict() for k, v in cands.items()}, "best_fwd": best, "best_fb": best_fb,
                      "floor": {"fwd": cands[best].fwd, "fb": cands[best_fb].fb,
                                "peak": min(v.peak for v in cands.values())},
                      "list_floor": {"fwd": cands[best_list].fwd, "fb": cands[best_list_fb].fb}}
        print(f"     floor S={key[0]}: " + ", ".join(f"{k}={v.fwd * 1e3:.3f}ms" for k, v in cands.items()))
    row.update(cache[key])


# ------------------------------------------------------------------------------------ report
def ms(r, key="fb"):
    v = None if r is None else r.get(key)
    return "—" if v is None else f"{v * 1e3:.3f}" if v < 0.01 else f"{v * 1e3:.2f}"


def mib(v):
    return "—" if v is None else f"{v / MIB:.2f}"


def ratio(a, b):
    return None if a is None or b is None or b == 0 else a / b


def fmt_ratio(x):
    return "—" if x is None else f"{x:.2f}×"


def table(header, rows) -> str:
    out = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    out += ["| " + " | ".join(str(c) for c in r) + " |" for r in rows]
    return "\n".join(out)


def time_table(rows) -> str:
    header = ["method", "fwd ms", "fwd+bwd ms", "ref fwd+bwd", "×ref", "ref Δ", "compiled fwd+bwd", "×compiled", "compile s"]
    has_tmm = any("tmm_attention" in r for r in rows)
    if has_tmm:
        header += ["TMM attn fwd+bwd", "×TMM", "FLOPs/TMM", "×TMM/work"]
    body = []
    for r in rows:
        o, ref, c = r["ours"], r.get("ref"), r.get("compiled")
        line = [r["label"], ms(o, "fwd"), ms(o), ms(ref), fmt_ratio(ratio(o["fb"], ref and ref["fb"])),
                "—" if "ref_max_abs_diff" not in r else f"{r['ref_max_abs_diff']:.0e}",
                ms(c), fmt_ratio(ratio(c and c["fb"], o["fb"])), "—" if c is None else f"{c['compile_s']:.1f}"]
        if has_tmm:
            tmm_key = "tmm_concat" if r["method"] == "concat" else "tmm_attention"
            t = r.get(tmm_key)
            tr = ratio(o["fb"], t and t["fb"])
            wr = ratio(o.get("flops"), t and t.get("flops"))
            line += [ms(t) + (" (concat)" if tmm_key == "tmm_concat" and t else ""), fmt_ratio(tr), fmt_ratio(wr),
                     fmt_ratio(ratio(tr, wr))]
        body.append(line)
    return table(header, body)


def memory_table(rows) -> str:
    header = ["method", "S", "N", "train-fwd peak MiB", "retained MiB", "infer peak MiB", "floor MiB", "×floor",
              "ref peak MiB", "×ref"]
    body = []
    for r in rows:
        o, ref = r["ours"], r.get("ref", {})
        body.append([r["label"], r["S"], r["N"], mib(o.get("peak")), mib(o.get("retained")), mib(o.get("infer_peak")),
                     mib(r["floor_bytes"]), fmt_ratio(ratio(o.get("peak"), r["floor_bytes"])),
                     mib(ref.get("peak")), fmt_ratio(ratio(o.get("peak"), ref.get("peak")))])
    return table(header, body)


def scaling_table(rows, key: str, values, unit: str) -> str:
    """Rows of one method each, columns fwd+bwd ms per value of ``key``, last/first ratio."""
    methods = list(dict.fromkeys(r["label"] for r in rows))
    header = ["method"] + [f"{unit}={v}" for v in values] + [f"{unit}={values[-1]} / {unit}={values[0]}"]
    body = []
    for m in methods:
        by = {r[key]: r for r in rows if r["label"] == m}
        cells = [ms(by[v]["ours"]) if v in by else "—" for v in values]
        first, last = by.get(values[0]), by.get(values[-1])
        body.append([m] + cells + [fmt_ratio(ratio(last and last["ours"]["fb"], first and first["ours"]["fb"]))])
    return table(header, body)


def tokens_table(rows) -> str:
    header = ["T", "tokens/stream L", "fwd ms", "fwd+bwd ms", "train-fwd peak MiB", "ref fwd+bwd ms",
              "ref peak MiB", "slope time (log-log)", "slope mem (log-log)"]
    body, prev = [], None
    for r in rows:
        L = math.prod(r["spatial"])
        o, ref = r["ours"], r.get("ref", {})
        st = sm = "—"
        if prev is not None:
            dl = math.log(L / prev[0])
            st = f"{math.log(o['fb'] / prev[1]) / dl:.2f}"
            sm = f"{math.log(o['peak'] / prev[2]) / dl:.2f}"
        body.append([r["spatial"][0], L, ms(o, "fwd"), ms(o), mib(o["peak"]), ms(ref), mib(ref.get("peak")), st, sm])
        prev = (L, o["fb"], o["peak"])
    return table(header, body)


def floor_table(rows) -> str:
    """Every floor candidate once per S; the fastest fwd and fwd+bwd are marked."""
    header = ["S", "candidate", "fwd ms", "fwd+bwd ms", "train-fwd peak MiB"]
    body, seen = [], set()
    for r in rows:
        if r["S"] in seen:
            continue
        seen.add(r["S"])
        for name, f in r["candidates"].items():
            fwd, fb = ms(f, "fwd"), ms(f)
            fwd = f"**{fwd}**" if name == r["best_fwd"] else fwd
            fb = f"**{fb}**" if name == r["best_fb"] else fb
            body.append([r["S"], name, fwd, fb, mib(f.get("peak"))])
    return table(header, body)


def evaluate_targets(results) -> list[dict]:
    """PASS/MISS per row for every target of the issue."""
    out = []

    def add(target, row, value, limit, note=""):
        if value is not None:
            out.append({"target": target, "row": row, "value": value, "limit": limit,
                        "pass": value <= limit, "note": note})

    for g in ("pooled-L", "pooled-S", "maps", "streams"):
        for r in results.get(g, []):
            if r["method"] in WEIGHTING and "ref" in r:
                add("fwd+bwd ≤ 1.0× hand-written reference", f"{g}/{r['label']}/S={r['S']}",
                    ratio(r["ours"]["fb"], r["ref"]["fb"]), 1.0)
    for g in ("pooled-L", "pooled-S"):
        for r in results.get(g, []):
            t = r.get("tmm_attention")
            if r["method"] in WEIGHTING and t:
                tr = ratio(r["ours"]["fb"], t["fb"])
                wr = ratio(r["ours"].get("flops"), t.get("flops"))
                add("fwd+bwd ≤ 1.0× TMM AttentionFusionModule per unit work", f"{g}/{r['label']}", ratio(tr, wr), 1.0,
                    f"raw {tr:.2f}×, FLOPs {wr:.2f}×")
    for r in results.get("pooled-M", []):
        t = r.get("tmm_attention")
        if r["method"] == "attention" and t:
            add("attention fwd+bwd ≤ 1.0× TMM AttentionFusionModule at D=512 (time)", f"pooled-M/{r['label']}",
                ratio(r["ours"]["fb"], t["fb"]), 1.0, f"FLOPs {fmt_ratio(ratio(r['ours'].get('flops'), t.get('flops')))}")
    for r in results.get("floor", []):
        add("pre-projected fwd ≤ 1.3× elementwise floor", f"floor/{r['label']}/S={r['S']}",
            ratio(r["ours"]["fwd"], r["floor"]["fwd"]), 1.3)
        add("pre-projected fwd+bwd ≤ 1.3× floor fwd+bwd", f"floor/{r['label']}/S={r['S']}",
            ratio(r["ours"]["fb"], r["floor"]["fb"]), 1.3)
        if "list_floor" in r:
            add("pre-projected fwd ≤ 1.3× the floor reading the same list of streams", f"floor/{r['label']}/S={r['S']}",
                ratio(r["ours"]["fwd"], r["list_floor"]["fwd"]), 1.3)
    streams = results.get("streams", [])
    s_min = min((r["S"] for r in streams), default=None)
    s_max = max((r["S"] for r in streams), default=None)
    for label in dict.fromkeys(r["label"] for r in streams):
        by = {r["S"]: r for r in streams if r["label"] == label}
        if s_min in by and s_max in by and s_max != s_min:
            limit = s_max / s_min + 1  # linear in S with slack for the fixed cost: 9× for S 2 -> 16
            refs = [by[k].get("ref", {}).get("fb") for k in (s_max, s_min)]
            add(f"time linear in S: S={s_max} ≤ {limit:.0f}× S={s_min} (fwd+bwd)", f"streams/{label}",
                ratio(by[s_max]["ours"]["fb"], by[s_min]["ours"]["fb"]), limit,
                f"reference: {ratio(*refs):.2f}×" if all(refs) else "")
    for g, rows in results.items():
        for r in rows:
            if "ours" in r and r["ours"].get("peak") is not None and g != "tokens":
                ref_peak = r.get("ref", {}).get("peak")
                add("train-forward peak ≤ 2× floor peak (N·D·4 B)", f"{g}/{r['label']}/S={r['S']}/N={r['N']}",
                    ratio(r["ours"]["peak"], r["floor_bytes"]), 2.0,
                    f"{ratio(r['ours']['peak'], ref_peak):.2f}× the reference's" if ref_peak else "")
    return out


def targets_table(targets) -> str:
    body = [[t["target"], t["row"], f"{t['value']:.2f}", f"{t['limit']:.1f}", "PASS" if t["pass"] else "**MISS**", t["note"]]
            for t in targets]
    return table(["target", "row", "value", "limit", "result", "note"], body)


def summary_table(targets) -> str:
    kinds = list(dict.fromkeys(t["target"] for t in targets))
    body = []
    for k in kinds:
        ts = [t for t in targets if t["target"] == k]
        miss = [t["row"] for t in ts if not t["pass"]]
        body.append([k, f"{len(ts) - len(miss)}/{len(ts)}", ", ".join(miss) if len(miss) <= 12 else f"{len(miss)} rows (see below)"])
    return table(["target", "pass", "missed rows"], body)


def render(results, titles, info, settings, targets, elapsed, command) -> str:
    parts = ["# streamfuse fusion benchmark", "",
             f"Command: `{command}`  ", f"Elapsed: {elapsed:.0f} s", "",
             table(["key", "value"], [[k, v] for k, v in info.items()]), "",
             f"Timer: blocked_autorange, min_run_time={settings.min_run_time}s, rounds={settings.rounds} "
             f"(lowest round median reported); times in ms.", "",
             "Definitions: see the docstring of `benchmarks/bench_fusions.py`. `fwd` = inference (eval, no_grad); "
             "`fwd+bwd` = training forward + autograd.grad w.r.t. parameters and input streams. "
             "`×ref` = ours / hand-written reference (same parameters, checked equal: `ref Δ` = max |Δ| of outputs). "
             "`×compiled` = torch.compile(ours) / eager ours. `×TMM/work` = (ours / TMM AttentionFusionModule) / "
             "(FLOPs ours / FLOPs TMM). Memory: peak bytes of tensors allocated during one forward "
             "(training mode unless `infer`), inputs and parameters excluded; `floor` = N·D·4 B, the output "
             "that the elementwise floor writes and the most it holds.", "",
             "## Targets summary", "", summary_table(targets), ""]
    for g, rows in results.items():
        if not rows:
            continue
        parts += [f"## {titles[g]}", ""]
        if g == "streams":
            s_values = sorted({r["S"] for r in rows})
            parts += ["fwd+bwd ms:", "", scaling_table(rows, "S", s_values, "S"), ""]
            ref_rows = [dict(r, ours=r["ref"], label=r["label"] + " [ref]") for r in rows if "ref" in r]
            if ref_rows:
                parts += ["hand-written references, fwd+bwd ms:", "", scaling_table(ref_rows, "S", s_values, "S"), ""]
        elif g == "batch":
            n_values = sorted({r["N"] for r in rows})
            parts += ["fwd+bwd ms:", "", scaling_table(rows, "N", n_values, "N"), ""]
        elif g == "tokens":
            parts += [tokens_table(rows), ""]
        elif g == "floor":
            parts += ["Floor candidates (each reads the S·N·D inputs once):", "", floor_table(rows), ""]
            body = [[r["label"], r["S"], ms(r["ours"], "fwd"), ms(r["floor"], "fwd"),
                     fmt_ratio(ratio(r["ours"]["fwd"], r["floor"]["fwd"])),
                     fmt_ratio(ratio(r["ours"]["fwd"], r.get("list_floor", {}).get("fwd"))), ms(r["ours"]), ms(r["floor"]),
                     fmt_ratio(ratio(r["ours"]["fb"], r["floor"]["fb"])), ms(r.get("compiled"), "fwd"),
                     fmt_ratio(ratio(r.get("compiled", {}).get("fwd"), r["floor"]["fwd"])), ms(r.get("ref"), "fwd"),
                     mib(r["ours"]["peak"]), mib(r["floor"]["peak"])]
                    for r in rows]
            parts += [table(["method", "S", "fwd ms", "floor fwd", "×floor", "× list floor", "fwd+bwd ms", "floor fwd+bwd", "×floor",
                             "compiled fwd", "compiled ×floor", "ref fwd", "peak MiB", "floor peak MiB"], body), ""]
        if g not in ("streams", "batch", "tokens"):
            parts += ["Time:", "", time_table(rows), ""]
        if g != "tokens":  # the tokens table has its memory columns
            parts += ["Forward memory:", "", memory_table(rows), ""]
    parts += ["## All targets", "", targets_table(targets), ""]
    return "\n".join(parts)


# ------------------------------------------------------------------------------------ main
def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--quick", action="store_true", help="reduced set, < 2 minutes on 2 CPU cores")
    p.add_argument("--device", default="cpu", choices=("cpu", "cuda"))
    p.add_argument("--out", type=Path, help="markdown report path (JSON goes next to it)")
    p.add_argument("--json", type=Path, help="JSON path (default: --out with .json)")
    p.add_argument("--min-run-time", type=float, help="seconds per blocked_autorange (default 0.15, quick 0.05)")
    p.add_argument("--rounds", type=int, help="timing rounds per measurement (default 2, quick 1)")
    p.add_argument("--no-compile", action="store_true", help="skip torch.compile columns and compiled floors")
    p.add_argument("--groups", nargs="*", help="run only these groups")
    p.add_argument("--threads", type=int, default=1,
                   help="intra-op CPU threads (default 1: on a shared 2-core machine, 2 OpenMP threads wait for "
                        "descheduled siblings and a 80 us call was measured at 32 ms)")
    p.add_argument("--overwrite", action="store_true", help="replace an existing --out / --json report")
    return p


def main(argv=None) -> int:
    p = build_parser()
    args = p.parse_args(argv)
    json_path = args.json or (args.out.with_suffix(".json") if args.out else None)
    existing = [str(f) for f in (args.out, json_path) if f is not None and f.exists()]
    if existing and not args.overwrite:
        p.error(f"{' and '.join(existing)} exist; nothing was overwritten. Choose another --out or pass --overwrite")
    if TMM is None:
        print(f"torchmultimodal is not installed: its comparison column will read 'not installed' "
              f"(to include it: {TMM_INSTALL})", file=sys.stderr, flush=True)
    torch.set_num_threads(args.threads)
    if args.device == "cuda" and not torch.cuda.is_available():
        p.error("--device cuda: CUDA is not available")
    s = Settings(args.device, args.min_run_time or (0.05 if args.quick else 0.15),
                 args.rounds or (1 if args.quick else 2), not args.no_compile)
    torch._dynamo.config.recompile_limit = 64
    command = "python " + " ".join([sys.argv[0]] + (argv if argv is not None else sys.argv[1:]))
    info = machine_info(args.device)
    print(json.dumps(info), flush=True)
    start = time.perf_counter()
    results: dict[str, list] = {}
    plan = build_cases(args.quick)
    titles = {g: title for g, (title, _) in plan.items()}

    def save(final: bool) -> str:
        """Write the report and JSON (after every group too, so an interrupted run keeps its tables)."""
        elapsed = time.perf_counter() - start
        info["load average at end (1, 5, 15 min)"] = " ".join(f"{v:.2f}" for v in os.getloadavg())
        targets = evaluate_targets(results)
        report = render(results, titles, info, s, targets, elapsed, command + ("" if final else "  (partial)"))
        if args.out:
            args.out.parent.mkdir(parents=True, exist_ok=True)
            args.out.write_text(report)
        if json_path:
            json_path.parent.mkdir(parents=True, exist_ok=True)
            json_path.write_text(json.dumps({"machine": info, "settings": vars(s), "command": command, "complete": final,
                                             "elapsed_s": elapsed, "results": results, "targets": targets},
                                            indent=1, default=str))
        return report

    tmm_cache, floor_cache = {}, {}
    for g, (_, cases) in plan.items():
        if args.groups and g not in args.groups:
            continue
        rows = results.setdefault(g, [])
        for case in cases:
            row = run_case(case, s, print, tmm_cache)
            if g == "floor":
                attach_floor(row, case, s, floor_cache)
            rows.append(row)
        print(f"-- group {g} done at {time.perf_counter() - start:.0f}s", flush=True)
        save(final=False)
    print(save(final=True))
    return 0


if __name__ == "__main__":
    sys.exit(main())
