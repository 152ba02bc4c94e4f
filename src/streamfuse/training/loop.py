"""The training loop: AdamW, cosine schedule, early stopping on a validation split, fixed seeds.

Runs unchanged on one process or under ``torchrun`` (see ``distributed``). With a fixed seed the
result is deterministic on CPU: the same seed gives the same weights.

Loss: ``CE(fused scores)``, plus ``aux_loss * mean over streams of CE(stream's auxiliary scores)``
when the model spec has ``aux_loss`` > 0 (see ``models.MultiStreamNet``). Validation, early
stopping and everything after training use the fused scores only.

Balanced training (``balance``, see the ``balance`` package) and stacked training (``stacked=True``):
see ``train_model``.

Weight decay (``param_groups``): AdamW decays the matrices and convolution kernels only, not 1-D
parameters (biases, norm scales) nor what a module declares in ``no_weight_decay()`` (timm's
convention; every ``Fusion`` names its weight logits and stream embeddings, e.g. ``theta``,
``stream_bias``): decay on a weight logit pulls the weights back to uniform.
``decay_all=True`` decays every parameter.
"""

from __future__ import annotations

import copy
import functools
import hashlib
import json
import math
import time
from collections import OrderedDict
from dataclasses import asdict, dataclass, field, replace
from statistics import NormalDist

import torch
import torch.nn.functional as F
from torch.nn.parallel import DistributedDataParallel
from torch.utils.data import DistributedSampler

from ..errors import StreamFuseError
from ..weight_decay import no_weight_decay_ids
from . import distributed
from .checks import check_train_config, check_train_data
from .balance import make_recipe
from .model_methods import model_method
from .models import baseline, build_model


@dataclass
class TrainConfig:
    """Training settings. ``train_model(spec, ...)`` reads the optimisation ones (``epochs`` to
    ``device``, ``decay_all``, ``stacked``, ``balance``, ``keep_streams``); the model ones
    (``width``, ``dim``, ``dropout``, ``pool``, ``fusion_options``, ``aux_loss``, ``standardize``)
    describe the model and reach it through its spec: the bench's ``model_spec(method, data, cfg)``
    (and ``train_and_evaluate``) copies them there, and a caller of ``train_model`` who writes the
    spec sets them in it."""

    epochs: int = 30
    batch_size: int = 64
    lr: float = 2e-3
    weight_decay: float = 0.05
    val_fraction: float = 0.15
    patience: int = 10
    seed: int = 0
    device: str = "cpu"
    width: int = 32
    dim: int | None = None
    dropout: float = 0.5
    pool: str = "avg"
    fusion_options: dict = field(default_factory=dict)
    aux_loss: float = 0.0  # per-stream aux loss lambda; model_spec copies it into the spec, which the loop uses
    decay_all: bool = False  # True: decay every parameter (the behaviour before param_groups)
    stacked: bool = False  # fusion models: encoders on one half of train, then the head alone on the other
    balance: str = "none"  # fusion models: a training recipe of balance.BALANCE (see the balance package)
    standardize: bool = False  # z-score every stream with training statistics inside the model (standardize.py)
    keep_streams: bool = False  # warm-start recipes: never leave out a stream that shows no information alone (see leave_out)

    def to_dict(self) -> dict:
        return asdict(self)


def stratified_split(labels: torch.Tensor, fraction: float, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Indices ``(train, val)``: ``fraction`` of each class goes to validation, at least one
    sample, and at least one stays for training."""
    g = torch.Generator().manual_seed(seed)
    train, val = [], []
    for c in labels.unique():
        idx = (labels == c).nonzero().flatten()
        idx = idx[torch.randperm(len(idx), generator=g)]
        # at least one to validation, and at least one kept for training, in every class
        k = min(len(idx) - 1, max(1, round(len(idx) * fraction))) if fraction > 0 and len(idx) > 1 else 0
        val.append(idx[:k])
        train.append(idx[k:])
    return torch.cat(train).sort().values, torch.cat(val).sort().values


def take(streams: dict, idx) -> dict:
    return {k: v[idx] for k, v in streams.items()}


@torch.no_grad()
def predict(model, streams: dict, batch_size: int = 256, mask=None, device=None) -> torch.Tensor:
    """Scores ``(N, K)`` for ``streams`` in batches, in eval mode (restored afterwards)."""
    was_training = model.training
    model.eval()
    device = device or next(model.parameters()).device
    n = next(iter(streams.values())).shape[0]
    out = []
    for i in range(0, n, batch_size):
        sl = slice(i, i + batch_size)
        m = None if mask is None else mask[sl].to(device)
        out.append(model({k: v[sl].to(device) for k, v in streams.items()}, mask=m).float().cpu())
    model.train(was_training)
    return torch.cat(out) if out else torch.empty(0)


def macro_f1(pred: torch.Tensor, labels: torch.Tensor, num_classes: int) -> float:
    f1s = []
    for c in range(num_classes):
        tp = ((pred == c) & (labels == c)).sum().item()
        fp = ((pred == c) & (labels != c)).sum().item()
        fn = ((pred != c) & (labels == c)).sum().item()
        f1s.append(0.0 if tp == 0 else 2 * tp / (2 * tp + fp + fn))
    return sum(f1s) / num_classes


def param_groups(model, weight_decay: float, decay_all: bool = False) -> list[dict]:
    """AdamW groups: decayed (matrices, kernels) and not (1-D parameters and what each module
    declares in ``no_weight_decay()``: fusion weight logits, stream embeddings)."""
    if decay_all:
        return [{"params": list(model.parameters()), "weight_decay": weight_decay}]
    skip = no_weight_decay_ids(model)
    decay, keep = [], []
    for p in model.parameters():
        (keep if id(p) in skip else decay).append(p)
    return [{"params": decay, "weight_decay": weight_decay}, {"params": keep, "weight_decay": 0.0}]


def _loss(net, batch, y, aux_loss: float, recipe) -> tuple[torch.Tensor, object]:
    """The batch loss and the model's output: the recipe's loss when it uses per-stream heads,
    else ``CE(fused)`` plus ``aux_loss`` times the mean of the per-stream auxiliary CEs."""
    if recipe.stream_heads:
        out = net(batch, return_aux=recipe.aux_mode)
        return recipe.loss(out, y), out
    if aux_loss <= 0:
        out = net(batch)
        return F.cross_entropy(out, y), out
    scores, aux = out = net(batch, return_aux=True)
    return F.cross_entropy(scores, y) + aux_loss * torch.stack([F.cross_entropy(a, y) for a in aux.values()]).mean(), out


def _evaluate(model, streams, labels, cfg, device, rank, world) -> tuple[float, float]:
    """Accuracy and mean loss, each rank scoring a disjoint shard, summed over ranks."""
    idx = torch.arange(rank, len(labels), world)
    scores = predict(model, take(streams, idx), cfg.batch_size * 4, device=device)
    y = labels[idx]
    correct = (scores.argmax(1) == y).sum().item() if len(y) else 0.0
    loss = F.cross_entropy(scores, y, reduction="sum").item() if len(y) else 0.0
    correct, loss, count = distributed.all_sum([correct, loss, float(len(y))], device)
    return correct / max(count, 1), loss / max(count, 1)


@torch.no_grad()
def _head_losses(model, streams, labels, cfg, device, rank, world) -> list[float]:
    """Mean CE of the fused head, then of each stream's head, in eval mode, summed over ranks."""
    was_training = model.training
    model.eval()
    idx = torch.arange(rank, len(labels), world)
    sums = [0.0] * (1 + len(model.stream_names))
    for i in range(0, len(idx), cfg.batch_size * 4):
        b = idx[i : i + cfg.batch_size * 4]
        scores, aux = model({k: v[b].to(device) for k, v in streams.items()}, return_aux=True)
        y = labels[b].to(device)
        for k, sc in enumerate([scores, *aux.values()]):
            sums[k] += F.cross_entropy(sc.float(), y, reduction="sum").item()
    model.train(was_training)
    *sums, count = distributed.all_sum([*sums, float(len(idx))], device)
    return [v / max(count, 1) for v in sums]


# Single-stream models trained in this process, by (spec, config, data): warm start and stacked
# training reuse them, and so does the bench's ``single:<stream>`` baseline trained with the same
# settings (training is deterministic per seed, so a cached model equals a retrained one).
_SOLO_CACHE: OrderedDict = OrderedDict()
_SOLO_CACHE_SIZE = 16


def _fingerprint(t: torch.Tensor) -> str:
    return hashlib.sha1(t.detach().cpu().contiguous().numpy().tobytes()).hexdigest() + str(tuple(t.shape))


def _solo_key(spec: dict, streams: dict, labels: torch.Tensor, cfg: TrainConfig) -> str:
    stream = spec["method"].split(":", 1)[1]
    # a single-stream model ignores every fusion-model setting: the bench's `single:<s>` baseline
    # (trained with the bench's recipe in its config) and a warm start's encoder are one model
    blob = {"spec": spec, "cfg": dict(_solo_cfg(cfg).to_dict(), device=None), "x": _fingerprint(streams[stream]), "y": _fingerprint(labels)}
    return json.dumps(blob, sort_keys=True, default=str)


def _solo_cfg(cfg: TrainConfig) -> TrainConfig:
    """The settings a stream is trained alone with: the same, without any fusion-model option."""
    return replace(cfg, stacked=False, aux_loss=0.0, fusion_options={}, balance="none")


def _single_spec(spec: dict, stream: str) -> dict:
    single = dict(spec, method=f"single:{stream}", aux_loss=0.0, fusion_options={})
    single.pop("stream_heads", None)
    return single


def _train_singles(spec: dict, streams: dict, labels: torch.Tensor, cfg: TrainConfig) -> tuple[dict, tuple[float, float], dict, dict]:
    """Each stream's encoder trained alone (as ``single:<stream>``): ``({stream: state_dict},
    (wall seconds, CPU seconds), {stream: validation evidence}, {stream: classifier})`` (see
    ``validation_evidence``; the classifier as ``single_classifier`` gives it)."""
    states, wall, cpu, evidence, classifiers = {}, 0.0, 0.0, {}, {}
    for s in spec["streams"]:
        model, info = train_model(_single_spec(spec, s), streams, labels, _solo_cfg(cfg))
        states[s] = copy.deepcopy(model.encoders[s].state_dict())
        classifiers[s] = single_classifier(model)
        wall, cpu = wall + info["train_seconds"], cpu + info["train_cpu_seconds"]
        evidence[s] = validation_evidence(model, streams, labels, cfg, looks=info["epochs_run"])
    return states, (wall, cpu), evidence, classifiers


@torch.no_grad()
def single_classifier(model) -> dict:
    """A ``single:<stream>`` model's head, ``pool -> Linear(C, C) -> dropout -> fc``, as the one
    linear map ``{"weight": (K, C), "bias": (K,)}`` it computes in eval mode (the layout of a
    ``stream_classifier``'s last layer)."""
    proj, fc = model.head.fusion.proj, model.head.fc
    return {"weight": fc.weight @ proj.weight, "bias": fc.weight @ proj.bias + fc.bias}


# Two one-sided tests of "this stream alone predicts validation labels better than the class
# prior", each at the 2.5 % level (together 5 %, Bonferroni), in the normal approximation:
# validation splits have >= 30 samples wherever a stream is left out (see validation_evidence).
# The accuracy test also divides its level by the epochs the single-stream model was chosen
# among: early stopping kept the epoch with the best accuracy on these same samples, so a noise
# stream's accuracy is the best of that many draws (see accuracy_threshold).
LEAVE_OUT_LEVEL = 0.025
LEAVE_OUT_T = NormalDist().inv_cdf(1 - LEAVE_OUT_LEVEL)  # 1.96


def accuracy_threshold(looks: int) -> float:
    """The ``z`` an accuracy must reach when the model was chosen as the best of ``looks``
    validation evaluations: the one-sided ``LEAVE_OUT_LEVEL / looks`` quantile (2.94 for 15)."""
    return NormalDist().inv_cdf(1 - LEAVE_OUT_LEVEL / max(int(looks), 1))


@torch.no_grad()
def validation_evidence(model, streams: dict, labels: torch.Tensor, cfg: TrainConfig, looks: int = 1) -> dict:
    """How much a trained model tells about the labels of the validation split, beyond the class
    prior, as two statistics (``None`` below 30 samples):

    ``"gain"``: mean over samples of log p_model(y) - log prior(y) (nats), ``"t"`` that mean over
    its standard error; ``"accuracy"`` and ``"prior_accuracy"`` (the prior always predicts its
    most frequent class), ``"z"`` their difference in binomial standard errors under the prior;
    ``"n"``: validation samples; ``"looks"``: the validation evaluations the model was chosen
    among (its epochs run under early stopping), which the accuracy test corrects for.

    The prior is the training split's class frequencies (add-one smoothed), the best prediction
    that uses no stream. A stream whose model memorised its training samples (pure noise can be
    memorised) predicts new samples no better than the prior by either measure. Why two: the
    log-likelihood also punishes confident mistakes, so a weak but informative stream whose model
    is overconfident can show a gain below zero while its accuracy is well above the prior's
    (RGB in one seed of the default bench: t = 0.97, accuracy 0.26 against 0.125, z = 3.6).
    """
    tr_idx, va_idx = stratified_split(labels, cfg.val_fraction, cfg.seed)
    y, n = labels[va_idx], len(va_idx)
    if n == 0:  # val_fraction 0: nothing to tell from
        return {"gain": 0.0, "t": None, "accuracy": 0.0, "prior_accuracy": 0.0, "z": None, "n": 0, "looks": looks}
    scores = predict(model, take(streams, va_idx), cfg.batch_size * 4, device=next(model.parameters()).device)
    k = scores.shape[1]
    counts = torch.bincount(labels[tr_idx], minlength=k).double()
    prior = torch.log((counts + 1) / (len(tr_idx) + k))
    gain = -F.cross_entropy(scores.double(), y, reduction="none") - prior[y]
    mean = float(gain.mean())
    accuracy = float((scores.argmax(1) == y).double().mean())
    p0 = float((y == int(counts.argmax())).double().mean())
    t = z = None
    if n >= 30:
        sd = float(gain.std())
        t = mean / (sd / math.sqrt(n)) if sd > 0 else (math.inf if mean > 0 else -math.inf)
        se = math.sqrt(p0 * (1 - p0) / n)
        z = (accuracy - p0) / se if se > 0 else (math.inf if accuracy > p0 else -math.inf)
    return {"gain": mean, "t": t, "accuracy": accuracy, "prior_accuracy": p0, "z": z, "n": n, "looks": looks}


def _strength(e: dict) -> float:
    """How far a stream's evidence (``validation_evidence``) clears its bar: the larger of
    ``t - LEAVE_OUT_T`` and ``z - accuracy_threshold(looks)`` (``z`` may be absent); >= 0 keeps it."""
    z = e.get("z")
    t = e["t"] - LEAVE_OUT_T
    return t if z is None else max(t, z - accuracy_threshold(e.get("looks", 1)))


def streams_to_leave_out(evidence: dict) -> list[str]:
    """The streams whose model alone beats the class prior on validation data by neither measure
    of ``validation_evidence`` (``t`` below ``LEAVE_OUT_T`` and ``z`` below
    ``accuracy_threshold(looks)``), except the one with the strongest evidence when every stream
    falls short (a weak stream beside a noise stream: keep the weak one); none when the
    validation split is too small to tell (some ``t`` None)."""
    if not evidence or any(e["t"] is None for e in evidence.values()):
        return []
    out = [s for s, e in evidence.items() if _strength(e) < 0]
    if len(out) == len(evidence):
        out.remove(max(out, key=lambda s: _strength(evidence[s])))
    return out


def _train_encoders(spec: dict, streams: dict, labels: torch.Tensor, cfg: TrainConfig):
    """Stage 1 of stacked training: each stream's encoder trained alone (as ``single:<stream>``)
    on one stratified half of ``labels``; returns the other half, the encoders' state dicts and
    the (wall, CPU) seconds spent.

    Why: a weight fitted on the samples its encoders were trained on rewards whatever the
    encoders memorised (a noise stream included); on unseen samples memorised features are
    worthless, so a head fitted there weighs each stream by what it tells about new data
    (measured in BENCHMARKS.md, "`--stacked`").
    """
    half_a, half_b = stratified_split(labels, 0.5, cfg.seed)
    states, cost, _, _ = _train_singles(spec, take(streams, half_a), labels[half_a], cfg)
    return take(streams, half_b), labels[half_b], states, cost


def denormals_flushed() -> bool:
    """Whether this thread's CPU flushes denormal floats to zero now (``torch`` has no getter)."""
    return (torch.tensor([1e-39]) * torch.tensor([1.0])).item() == 0.0


def _flushing_denormals(fn):
    """Run ``fn`` with denormals flushed to zero, then restore the caller's setting."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        before = denormals_flushed()
        try:
            return fn(*args, **kwargs)
        finally:
            torch.set_flush_denormal(before)

    return wrapper


@_flushing_denormals
def train_model(spec: dict, train_streams: dict, train_labels: torch.Tensor, cfg: TrainConfig, progress=None):
    """Train the model ``spec`` describes; return ``(model, info)`` with the best-validation weights.

    Fusion models train with the recipe ``cfg.balance`` (see the ``balance`` package); with ``warmstart``
    each stream is first trained alone (``single:<stream>``, same settings and validation split)
    and the fused model starts from those encoders. With ``cfg.stacked`` (fusion models only)
    training has two stages: every stream's encoder alone on one half of the training samples,
    then, encoders frozen, the fusion head on the other half (its validation split taken from
    that half). Baselines train as usual.

    ``info``: ``train_seconds`` and ``train_cpu_seconds`` (wall and process CPU time, including
    the single-stream training a recipe needs, even when it was reused from an earlier model),
    ``epochs_run``, ``best_epoch``, ``val_accuracy``, ``history``, ``balance`` (the recipe's
    reported state), ``stream_evidence`` (warm-start recipes: ``validation_evidence`` of each
    stream's model alone) and ``left_out`` (the streams left out, see ``streams_to_leave_out``).
    """
    method = spec["method"]
    if not isinstance(cfg.keep_streams, bool):  # a string "False" would read as True
        raise StreamFuseError(f"keep_streams must be True or False, got {cfg.keep_streams!r}")
    check_train_config(cfg)
    check_train_data(spec, train_streams, train_labels)
    fused = not baseline(method)
    recipe_name = cfg.balance if fused else "none"
    recipe = make_recipe(recipe_name, len(spec["streams"]), seed=cfg.seed, method=method)  # OGM's noise follows the run's seed
    if fused and cfg.balance != "none" and (cfg.aux_loss > 0 or cfg.stacked):
        raise StreamFuseError(
            f"balance={cfg.balance!r} sets its own per-stream losses and training stages; "
            f"aux_loss={cfg.aux_loss:g} and stacked={cfg.stacked} apply with balance='none'"
        )
    solo_key = _solo_key(spec, train_streams, train_labels, cfg) if method.startswith("single:") else None
    if solo_key in _SOLO_CACHE:
        _SOLO_CACHE.move_to_end(solo_key)
        model, info = _SOLO_CACHE[solo_key]
        return copy.deepcopy(model), copy.deepcopy(info)
    rank, world = distributed.setup(cfg.device)
    device = distributed.local_device(cfg.device)
    # Tiny gradients and BatchNorm statistics produce denormal floats, which x86 CPUs process
    # far more slowly; flushing them to zero changes no result we report.
    torch.set_flush_denormal(True)
    encoder_states, pre, evidence, classifiers = None, (0.0, 0.0), {}, {}
    fit_on = train_streams  # the standardizer (spec "standardize") sees the whole training split given here
    if cfg.stacked and fused:
        train_streams, train_labels, encoder_states, pre = _train_encoders(spec, train_streams, train_labels, cfg)
    elif recipe.warm_start:
        encoder_states, pre, evidence, classifiers = _train_singles(spec, train_streams, train_labels, cfg)
    start, start_cpu = time.perf_counter(), time.process_time()
    entry = model_method(method)
    needs_heads = recipe.stream_heads and recipe.aux_mode != "masked" and (entry is None or not entry.own_stream_scores)
    tr_idx, va_idx = stratified_split(train_labels, cfg.val_fraction, cfg.seed)
    tr_streams, tr_y = take(train_streams, tr_idx), train_labels[tr_idx]
    va_streams, va_y = take(train_streams, va_idx), train_labels[va_idx]
    # G-Blend compares train and validation losses: a fixed sample of the training split, as
    # large as the validation split, keeps that measurement cheap
    probe_idx = torch.randperm(len(tr_y), generator=torch.Generator().manual_seed(cfg.seed))[: max(len(va_y), 1)]
    # without a validation split there is nothing to choose a schedule by: the first is trained
    schedules = recipe.schedules(cfg.epochs) if len(va_y) else recipe.schedules(cfg.epochs)[:1]

    def fit(recipe, turn: int):
        """One model trained from the warm start under ``recipe``'s current schedule:
        ``(model, (val_acc, val_loss), best_epoch, history, left_out)``."""
        torch.manual_seed(cfg.seed)
        # a recipe's per-stream heads serve the loss only: built for training, dropped afterwards
        # unless the spec asks for them, so the model returned is the one ``build_model(spec)`` makes
        # (a model-level method may score each stream itself, and ``masked`` scores them through the
        # fused head: then none are built)
        model = build_model(dict(spec, stream_heads=True) if needs_heads else spec).to(device)
        if getattr(model, "standardizer", None) is not None:
            # before stacked halving; warm-started encoders were trained under the same statistics
            # (their singles fitted theirs on this same split), so only encoder states are loaded
            model.standardizer.fit(fit_on)
        if encoder_states is not None:
            if cfg.stacked:
                model.freeze_encoders(encoder_states)
            else:
                model.load_encoders(encoder_states)
                if hasattr(model, "load_classifiers"):  # score-level models: start as the late fusion of the singles
                    model.load_classifiers(classifiers)
        # a stream whose own model predicts validation labels no better than the class prior (pure
        # noise, memorised) is left out of the fused model: the fused head would otherwise fit its
        # memorised training features and fail on new samples (BENCHMARKS.md, "Leaving out")
        left_out = [] if cfg.keep_streams or not hasattr(model, "leave_out") else streams_to_leave_out(evidence)
        if left_out:
            model.leave_out(left_out)
        net = DistributedDataParallel(model) if world > 1 else model
        opt = torch.optim.AdamW(param_groups(model, cfg.weight_decay, cfg.decay_all), lr=cfg.lr)
        aux_loss = getattr(model, "aux_loss", 0.0)
        sampler = DistributedSampler(range(len(tr_y)), num_replicas=world, rank=rank, shuffle=True, seed=cfg.seed)
        steps = cfg.epochs * math.ceil(len(sampler) / cfg.batch_size)
        sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: 0.5 * (1 + math.cos(math.pi * min(s, steps) / max(steps, 1))))
        best = (-1.0, math.inf)
        best_state, best_epoch, history, stale = None, 0, [], 0
        for epoch in range(cfg.epochs):
            sampler.set_epoch(epoch)
            order = torch.tensor(list(iter(sampler)))
            net.train()
            if recipe.on_epoch_start(model, epoch, cfg.epochs) and world > 1:
                net = DistributedDataParallel(model)  # DDP fixes the trained parameters when it wraps
            for i in range(0, len(order), cfg.batch_size):
                b = order[i : i + cfg.batch_size]
                batch = {k: v[b].to(device, non_blocking=True) for k, v in tr_streams.items()}
                y = tr_y[b].to(device)
                loss, out = _loss(net, batch, y, aux_loss, recipe)
                opt.zero_grad(set_to_none=True)
                loss.backward()
                recipe.after_backward(model, out, y, lambda v: distributed.all_sum(v, device))
                opt.step()
                sched.step()
            distributed.sync_buffers(model)
            if recipe.wants_losses(epoch + 1) and len(va_y):
                recipe.on_epoch_end(epoch + 1, {
                    "train": _head_losses(model, take(tr_streams, probe_idx), tr_y[probe_idx], cfg, device, rank, world),
                    "val": _head_losses(model, va_streams, va_y, cfg, device, rank, world),
                })
            if len(va_y):
                acc, vloss = _evaluate(model, va_streams, va_y, cfg, device, rank, world)
            else:
                acc, vloss = 0.0, 0.0
            history.append({"epoch": epoch + 1, "val_accuracy": acc, "val_loss": vloss})
            if progress is not None:  # several schedules count on: epoch 4 of the second is 19/30
                progress(turn * cfg.epochs + epoch + 1, len(schedules) * cfg.epochs, acc)
            if (acc, -vloss) > (best[0], -best[1]):
                best, best_epoch, stale = (acc, vloss), epoch + 1, 0
                best_state = copy.deepcopy(model.state_dict())
            elif epoch >= recipe.frozen_epochs:  # patience counts fine-tuning epochs: a frozen phase always ends in fine-tuning
                stale += 1
                if stale >= cfg.patience:
                    break
        if best_state is not None:
            model.load_state_dict(best_state)
        recipe.finish(model)
        if needs_heads and not spec.get("stream_heads") and model.aux_loss == 0:
            del model.aux_heads
        return model, best, best_epoch, history, left_out

    # A recipe may offer several schedules (how many first epochs keep the warm-started encoders
    # frozen): one model is trained under each, from the same seed, and the one with the best
    # validation accuracy (then loss) is kept; the test split is never looked at.
    chosen, tried = None, []
    for turn, frozen in enumerate(schedules):
        if turn:
            recipe = make_recipe(recipe_name, len(spec["streams"]), seed=cfg.seed, method=method)
        recipe.frozen_epochs = frozen
        result = fit(recipe, turn)
        tried.append({"frozen_epochs": frozen, "val_accuracy": result[1][0], "val_loss": result[1][1], "best_epoch": result[2],
                      "epochs_run": len(result[3])})
        # an exact tie goes to the fewer frozen epochs, whatever the order they were tried in
        if chosen is None or (result[1][0], -result[1][1], -frozen) > (chosen[1][1][0], -chosen[1][1][1], -chosen[0].frozen_epochs):
            chosen = (recipe, result)
    recipe, (model, best, best_epoch, history, left_out) = chosen
    state = recipe.state()
    if len(schedules) > 1:
        state = dict(state, frozen_epochs=recipe.frozen_epochs, schedules=tried)
    info = {
        "train_seconds": time.perf_counter() - start + pre[0],
        # CPU seconds of this process: the cost of a run even when other jobs share the cores
        "train_cpu_seconds": time.process_time() - start_cpu + pre[1],
        "epochs_run": len(history),
        "best_epoch": best_epoch,
        "val_accuracy": best[0],
        "history": history,
        "balance": state,
        "stream_evidence": evidence,  # warm-start recipes: each stream's model alone on validation
        "left_out": left_out,
    }
    model.eval()
    if solo_key is not None:
        _SOLO_CACHE[solo_key] = (copy.deepcopy(model), copy.deepcopy(info))
        while len(_SOLO_CACHE) > _SOLO_CACHE_SIZE:
            _SOLO_CACHE.popitem(last=False)
    return model, info
