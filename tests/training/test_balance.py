"""Balanced training recipes: hand-computed blend weights and modulation coefficients, warm start,
the registry contract (every recipe trains every kind of model), and bad settings."""

import copy
import math

import pytest
import torch
import torch.nn.functional as F

from streamfuse.errors import StreamFuseError
from streamfuse.training import MultiStreamNet, TrainConfig, build_model, train_model
from streamfuse.training.balance import BALANCE, GradientBlending, GradientModulation, make_recipe
from streamfuse.training.loop import _SOLO_CACHE, _train_singles

from .test_loop import synthetic


def test_gblend_weights_match_a_hand_computation():
    # heads: fused, a, b. Fused: val 1.0 -> 0.8 (gain 0.2), overfit 0.1 -> 0.3 (delta 0.2);
    # a: val 1.2 -> 0.9 (gain 0.3), overfit 0.0 -> 0.1 (delta 0.1); b: val rises (gain 0).
    before = {"train": [0.9, 1.2, 1.5], "val": [1.0, 1.2, 1.5]}
    after = {"train": [0.5, 0.8, 1.0], "val": [0.8, 0.9, 1.6]}
    eps = GradientBlending.eps
    raw = [0.2 / (0.2**2 + eps), 0.3 / (0.1**2 + eps), 0.0]
    expected = [r / sum(raw) for r in raw]
    got = GradientBlending.blend_weights(before, after)
    assert got == pytest.approx(expected, rel=1e-9)
    assert got[1] > got[0] > got[2] == 0.0  # the head that generalises best and overfits least wins
    assert GradientBlending.blend_weights(after, {"train": after["train"], "val": [v + 0.1 for v in after["val"]]}) is None


def test_gblend_loss_uses_the_current_weights():
    recipe = make_recipe("gblend", 2)
    assert recipe.weights == pytest.approx([1 / 3] * 3)  # uniform until the first estimate
    first = {"train": [1.0, 1.0, 1.0], "val": [1.0, 1.0, 1.0]}
    second = {"train": [0.5, 0.9, 0.9], "val": [0.9, 0.8, 1.1]}
    recipe.on_epoch_end(1, first)
    recipe.on_epoch_end(2, second)
    assert recipe.weights == GradientBlending.blend_weights(first, second)
    assert recipe.weights[2] == 0.0 and recipe.weights[1] > recipe.weights[0] > 0
    g = torch.Generator().manual_seed(0)
    y = torch.tensor([0, 1, 2, 1])
    scores, a, b = (torch.randn(4, 3, generator=g) for _ in range(3))
    expected = sum(w * F.cross_entropy(s, y) for w, s in zip(recipe.weights, (scores, a, b)))
    torch.testing.assert_close(recipe.loss((scores, {"a": a, "b": b}), y), expected)


def test_ogm_coefficients_match_a_hand_computation():
    alpha = 0.5
    # two streams: a is 3x as confident as b -> k_a = 1 - tanh(0.5 * 2), b untouched
    assert GradientModulation.coefficients([3.0, 1.0], alpha) == pytest.approx([1 - math.tanh(1.0), 1.0])
    # three streams: rho_a = 4 / mean(2, 2) = 2; rho_b = 2 / mean(4, 2) < 1
    assert GradientModulation.coefficients([4.0, 2.0, 2.0], alpha) == pytest.approx([1 - math.tanh(0.5), 1.0, 1.0])
    assert GradientModulation.coefficients([2.0, 2.0], alpha) == [1.0, 1.0]


def test_ogm_scales_each_encoders_gradient_by_its_coefficient():
    streams, y, spec = synthetic(n=16)
    spec = dict(spec, stream_heads=True)
    torch.manual_seed(0)
    model = build_model(spec).eval()
    recipe = GradientModulation(3, alpha=0.5, ge=False)
    out = model(streams, return_aux="probe")
    recipe.loss(out, y).backward()
    before = {n: p.grad.clone() for n, p in model.encoders.named_parameters()}
    recipe.after_backward(model, out, y, lambda v: v)
    conf = [a.softmax(1).gather(1, y[:, None]).sum().item() for a in out[1].values()]
    coeffs = GradientModulation.coefficients(conf, 0.5)
    assert min(coeffs) < 1.0  # stream a carries the label: it is the confident one here
    for k, s in zip(coeffs, spec["streams"]):
        for n, p in model.encoders[s].named_parameters():
            torch.testing.assert_close(p.grad, before[f"{s}.{n}"] * k)


def test_ogm_probe_heads_do_not_train_the_encoders():
    streams, y, spec = synthetic(n=16)
    model = build_model(dict(spec, stream_heads=True)).eval()
    scores, aux = model(streams, return_aux="probe")
    sum(F.cross_entropy(a, y) for a in aux.values()).backward()
    assert all(p.grad is None for p in model.encoders.parameters())
    assert all(p.grad is not None for p in model.aux_heads.parameters())


@pytest.mark.parametrize("balance", [name for name, recipe in BALANCE.items() if recipe.warm_start])
def test_warm_start_begins_from_the_single_stream_encoders(monkeypatch, balance):
    streams, y, spec = synthetic(n=64)
    cfg = TrainConfig(epochs=2, batch_size=16, seed=1, width=16, balance=balance)
    states, _, _, _ = _train_singles(spec, streams, y, cfg)
    for s in spec["streams"]:  # each equals the encoder of the `single:<s>` baseline trained alone
        single, _ = train_model(dict(spec, method=f"single:{s}"), streams, y, TrainConfig(epochs=2, batch_size=16, seed=1, width=16))
        for k, v in single.encoders[s].state_dict().items():
            assert torch.equal(v, states[s][k])
    # the fused model is started from exactly those encoders, before any fine-tuning step
    seen = {}
    original = MultiStreamNet.load_encoders

    def spy(self, loaded):
        original(self, loaded)
        seen.update({s: copy.deepcopy(self.encoders[s].state_dict()) for s in loaded})

    monkeypatch.setattr(MultiStreamNet, "load_encoders", spy)
    train_model(dict(spec, stream_heads=True), streams, y, cfg)
    assert sorted(seen) == sorted(spec["streams"])
    for s in spec["streams"]:
        for k, v in seen[s].items():
            assert torch.equal(v, states[s][k]), f"{s}.{k}"


@pytest.mark.parametrize("method", ["scalar", "attention", "gmu", "transformer"])
def test_masked_scores_are_the_fused_head_with_one_stream_present(method):
    streams, y, spec = synthetic(n=12)
    torch.manual_seed(0)
    model = build_model(dict(spec, method=method)).eval()
    scores, aux = model(streams, return_aux="masked")
    torch.testing.assert_close(scores, model(streams))
    assert list(aux) == spec["streams"]
    for i, s in enumerate(spec["streams"]):
        alone = torch.zeros(12, 3, dtype=torch.bool)
        alone[:, i] = True
        torch.testing.assert_close(aux[s], model(streams, mask=alone))
        changed = {k: (v if k == s else v * 100 + 3) for k, v in streams.items()}
        torch.testing.assert_close(model(changed, return_aux="masked")[1][s], aux[s])  # reads stream s only
    model.leave_out(["b"])
    assert list(model(streams, return_aux="masked")[1]) == ["a", "c"]  # a left-out stream is not scored
    with pytest.raises(StreamFuseError, match="return_aux='masked' scores each stream"):
        model(streams, return_aux=True)  # no per-stream heads: the error names the alternative
    for bad in ("mask", 1, None):
        with pytest.raises(StreamFuseError, match="return_aux must be one of"):
            model(streams, return_aux=bad)


def test_masked_recipe_trains_through_the_fused_head_without_stream_heads(monkeypatch):
    streams, y, spec = synthetic(n=72)
    calls = []
    original = MultiStreamNet.masked_scores

    def spy(self, feats):
        out = original(self, feats)
        calls.append((hasattr(self, "aux_heads"), sorted(out), self.training))
        return out

    monkeypatch.setattr(MultiStreamNet, "masked_scores", spy)
    cfg = TrainConfig(epochs=2, batch_size=16, seed=0, width=16, balance="masked", keep_streams=True)
    model, info = train_model(dict(spec, method="scalar"), streams, y, cfg)
    steps = 2 * math.ceil(61 / 16)  # 72 samples, 11 of them validation
    assert len(calls) == steps and all(c == (False, spec["streams"], True) for c in calls)
    recipe = make_recipe("masked", 3)
    g = torch.Generator().manual_seed(1)
    fused, a, b = (torch.randn(5, 3, generator=g) for _ in range(3))
    yy = torch.tensor([0, 2, 1, 1, 0])
    expected = F.cross_entropy(fused, yy) + (F.cross_entropy(a, yy) + F.cross_entropy(b, yy)) / 2
    torch.testing.assert_close(recipe.loss((fused, {"a": a, "b": b}), yy), expected)
    # left-out streams are not scored
    calls.clear()
    streams, y, spec = synthetic(n=240)  # >= 30 validation samples: enough to tell noise streams
    model, info = train_model(dict(spec, method="scalar"), streams, y, TrainConfig(**dict(cfg.to_dict(), keep_streams=False, epochs=1)))
    assert info["left_out"] and calls
    assert all(c[1] == sorted(set(spec["streams"]) - set(info["left_out"])) for c in calls)


def test_a_warm_started_learned_late_fusion_starts_as_the_late_fusion_of_the_singles(monkeypatch):
    from streamfuse.training.models import LateFusionNet

    streams, y, spec = synthetic(n=64)
    spec = dict(spec, method="late_learned", pool="max")
    cfg = TrainConfig(epochs=2, batch_size=16, seed=1, width=16, balance="masked", keep_streams=True)
    singles = {s: train_model(dict(spec, method=f"single:{s}"), streams, y, cfg)[0] for s in spec["streams"]}
    seen = []
    original = LateFusionNet.load_classifiers

    def spy(self, states):
        original(self, states)
        seen.append(copy.deepcopy(self).eval())

    monkeypatch.setattr(LateFusionNet, "load_classifiers", spy)
    train_model(spec, streams, y, cfg)
    (start,) = seen
    with torch.no_grad():
        expected = sum(singles[s](streams) for s in spec["streams"]) / 3  # theta and gate start at zero
        torch.testing.assert_close(start(streams), expected)
    with pytest.raises(StreamFuseError, match="classifier weights for stream 'x'"):
        start.load_classifiers({"x": {}})


def test_single_stream_models_are_reused_not_retrained():
    streams, y, spec = synthetic(n=48)
    cfg = TrainConfig(epochs=1, batch_size=16, seed=5, width=16)
    _SOLO_CACHE.clear()
    a, info_a = train_model(dict(spec, method="single:b"), streams, y, cfg)
    assert len(_SOLO_CACHE) == 1
    b, info_b = train_model(dict(spec, method="single:b"), streams, y, cfg)
    assert a is not b and info_a["train_seconds"] == info_b["train_seconds"]
    for v1, v2 in zip(a.state_dict().values(), b.state_dict().values()):
        assert torch.equal(v1, v2)
    # the recipe and fusion-model settings do not change a single-stream model: reused too
    train_model(dict(spec, method="single:b"), streams, y, TrainConfig(**dict(cfg.to_dict(), balance="ogm", aux_loss=0.0)))
    assert len(_SOLO_CACHE) == 1
    other = dict(streams, b=streams["b"] + 1)  # other data: trained anew
    train_model(dict(spec, method="single:b"), other, y, cfg)
    assert len(_SOLO_CACHE) == 2


def test_a_warm_start_run_counts_the_single_stream_trainings_in_its_cost():
    streams, y, spec = synthetic(n=48)
    cfg = TrainConfig(epochs=1, batch_size=16, seed=6, width=16)
    _SOLO_CACHE.clear()
    _, info = train_model(spec, streams, y, TrainConfig(**dict(cfg.to_dict(), balance="warmstart")))
    singles = [i for _, i in _SOLO_CACHE.values()]  # the single-stream models the warm start trained
    assert len(singles) == len(spec["streams"])
    for key in ("train_seconds", "train_cpu_seconds"):
        pre = sum(i[key] for i in singles)
        assert pre > 0 and info[key] > pre, key


@pytest.mark.parametrize("balance", sorted(BALANCE))
@pytest.mark.parametrize("method", ["attention", "late_learned"])
def test_every_recipe_trains_and_learns(balance, method):
    streams, y, spec = synthetic(n=120)
    spec = dict(spec, method=method)
    cfg = TrainConfig(epochs=6, batch_size=16, seed=2, width=16, balance=balance)
    model, info = train_model(spec, streams, y, cfg)
    acc = (model(streams).argmax(1) == y).float().mean().item()
    assert acc > 0.45, f"{balance}/{method}: {acc}"  # chance 1/3; only stream a carries the label
    if balance == "gblend":
        assert len(info["balance"]["blend_weights"]) >= 2
        assert all(abs(sum(w) - 1) < 1e-6 for w in info["balance"]["blend_weights"])
    if balance == "ogm":
        assert all(0 < k <= 1 for k in info["balance"]["mean_coefficients"])


def test_learned_late_fusion_reports_weights_and_honours_masks():
    streams, y, spec = synthetic(n=8)
    model = build_model(dict(spec, method="late_learned")).eval()
    with torch.no_grad():
        model.theta.copy_(torch.tensor([2.0, 0.0, -1.0]))
    scores, w, per_stream = model(streams, return_weights=True, return_aux=True)
    torch.testing.assert_close(w, torch.tensor([2.0, 0.0, -1.0]).softmax(0).expand(8, 3))  # the gate starts at zero
    torch.testing.assert_close(scores, sum(w[:, i, None] * per_stream[s] for i, s in enumerate(spec["streams"])))
    mask = torch.tensor([[True, False, True]] * 8)
    masked, wm = model(streams, mask=mask, return_weights=True)
    assert torch.all(wm[:, 1] == 0) and torch.allclose(wm.sum(1), torch.ones(8))
    changed = dict(streams, b=streams["b"] * 100)
    torch.testing.assert_close(model(changed, mask=mask), masked)  # the absent stream cannot matter
    with pytest.raises(StreamFuseError, match="no present stream"):
        model(streams, mask=torch.zeros(8, 3, dtype=torch.bool))


def test_bad_recipe_settings_are_refused():
    streams, y, spec = synthetic(n=16)
    with pytest.raises(StreamFuseError, match="unknown balance recipe 'blend'"):
        train_model(spec, streams, y, TrainConfig(epochs=1, balance="blend"))
    with pytest.raises(StreamFuseError, match="apply with balance='none'"):
        train_model(dict(spec, aux_loss=1.0), streams, y, TrainConfig(epochs=1, balance="gblend", aux_loss=1.0))


def test_recipe_heads_train_the_loss_and_leave_the_model():
    streams, y, spec = synthetic(n=48)
    model, _ = train_model(spec, streams, y, TrainConfig(epochs=1, batch_size=16, width=16, balance="gblend"))
    assert not hasattr(model, "aux_heads")  # the model build_model(spec) makes: a checkpoint of it loads
    assert set(model.state_dict()) == set(build_model(spec).state_dict())


@pytest.mark.parametrize("method", ["scalar", "late_learned"])
def test_recipe_trained_models_round_trip_through_a_checkpoint_and_explain(tmp_path, method):
    from streamfuse.importance import stream_importance
    from streamfuse.training import load_checkpoint, save_checkpoint

    streams, y, spec = synthetic(n=60)
    spec = dict(spec, method=method)
    cfg = TrainConfig(epochs=2, batch_size=16, seed=0, width=16, balance="warmstart")
    model, _ = train_model(spec, streams, y, cfg)
    save_checkpoint(tmp_path / "m.pt", model, spec, cfg.to_dict())
    loaded, payload = load_checkpoint(tmp_path / "m.pt")
    assert payload["config"]["balance"] == "warmstart"
    torch.testing.assert_close(loaded(streams), model(streams), rtol=0, atol=0)
    report = stream_importance(loaded, (streams, y), methods=("weights", "ablation", "shapley"))
    assert [r["stream"] for r in report.table] == spec["streams"]
    assert all(r["weight"] is not None for r in report.table)


def test_lpft_freezes_the_encoders_for_the_first_third_then_hands_back_a_trainable_model():
    from streamfuse.training.balance import ProbeThenFineTune

    streams, y, spec = synthetic(n=16)
    model = build_model(dict(spec, stream_heads=True))
    recipe = ProbeThenFineTune(3)  # no schedule set (the loop sets one): its first
    states = [recipe.on_epoch_start(model, e, 6) for e in range(6)]
    assert states == [True, False, True, False, False, False]  # frozen for epochs 0-1 (ceil(6/3)), then trained
    recipe.on_epoch_start(model, 0, 6)
    assert not any(p.requires_grad for p in model.encoders.parameters()) and not model.encoders.training
    recipe.finish(model)
    assert all(p.requires_grad for p in model.encoders.parameters()) and not model.frozen_encoders


@pytest.mark.parametrize("method", ["transformer", "scalar"])
def test_masked_tries_a_probe_phase_for_deep_heads_only(method):
    streams, y, spec = synthetic(n=16)
    model = build_model(dict(spec, method=method))
    recipe = make_recipe("masked", 3, method=method)
    deep = method in recipe.probe_first
    assert deep == (method == "transformer")
    assert recipe.schedules(6) == ((0, 2) if deep else (0,))  # 2 = ceil(6 / 3)
    assert recipe.run_key_extras(6) == ({"schedules": [0, 2]} if deep else {})
    for frozen in recipe.schedules(6):
        recipe.frozen_epochs = frozen
        states = [recipe.on_epoch_start(model, e, 6) for e in range(6)]
        assert states == ([True, False, True, False, False, False] if frozen else [False] * 6)


def test_masked_deep_heads_keep_the_schedule_with_the_best_validation_accuracy(monkeypatch):
    # each schedule trains exactly the model the recipe trains with that schedule alone, and the
    # run keeps the one validation prefers (the test split plays no part: there is none here)
    streams, y, spec = synthetic(n=64)
    spec = dict(spec, method="transformer")
    cfg = TrainConfig(epochs=3, batch_size=16, seed=2, width=16, balance="masked", keep_streams=True)
    model, info = train_model(spec, streams, y, cfg)
    tried = info["balance"]["schedules"]
    assert [t["frozen_epochs"] for t in tried] == [0, 1]
    alone = {}
    for frozen in (0, 1):
        monkeypatch.setattr(BALANCE["masked"], "schedules", lambda self, epochs, f=frozen: (f,))
        alone[frozen] = train_model(spec, streams, y, cfg)
        assert (alone[frozen][1]["val_accuracy"], alone[frozen][1]["best_epoch"]) == (tried[frozen]["val_accuracy"], tried[frozen]["best_epoch"])
    best = max((0, 1), key=lambda f: (tried[f]["val_accuracy"], -tried[f]["val_loss"]))
    assert info["balance"]["frozen_epochs"] == best and info["val_accuracy"] == tried[best]["val_accuracy"]
    for k, v in alone[best][0].state_dict().items():
        assert torch.equal(model.state_dict()[k], v), k
    assert all(p.requires_grad for p in model.encoders.parameters()) and not model.frozen_encoders
    # the choice does not depend on the order the schedules are tried in
    monkeypatch.setattr(BALANCE["masked"], "schedules", lambda self, epochs: (1, 0))
    assert train_model(spec, streams, y, cfg)[1]["balance"]["frozen_epochs"] == best


@pytest.mark.parametrize("order", [(0, 2), (2, 0)])
def test_an_exact_tie_on_validation_keeps_the_fewer_frozen_epochs_in_any_order(monkeypatch, order):
    import streamfuse.training.loop as loop

    streams, y, spec = synthetic(n=64)
    monkeypatch.setattr(loop, "_evaluate", lambda *a: (0.5, 1.0))  # every epoch of every schedule ties
    monkeypatch.setattr(BALANCE["masked"], "schedules", lambda self, epochs: order)
    cfg = TrainConfig(epochs=3, batch_size=16, seed=2, width=16, balance="masked", keep_streams=True)
    _, info = train_model(dict(spec, method="transformer"), streams, y, cfg)
    assert info["balance"]["frozen_epochs"] == 0


def test_without_a_validation_split_one_schedule_is_trained():
    streams, y, spec = synthetic(n=64)
    cfg = TrainConfig(epochs=3, batch_size=16, seed=2, width=16, balance="masked", keep_streams=True, val_fraction=0.0)
    _, info = train_model(dict(spec, method="transformer"), streams, y, cfg)
    assert "schedules" not in info["balance"]  # nothing to choose by


def test_early_stopping_waits_for_fine_tuning_after_a_frozen_phase(monkeypatch):
    # validation never improves after epoch 1; patience 1; 2 of 6 epochs frozen: the plain
    # schedule stops after epoch 2, the frozen one only after its first fine-tuning epoch (3)
    import streamfuse.training.loop as loop

    streams, y, spec = synthetic(n=64)
    monkeypatch.setattr(loop, "_evaluate", lambda *a: (0.5, 1.0))
    cfg = TrainConfig(epochs=6, batch_size=16, seed=2, width=16, balance="masked", keep_streams=True, patience=1)
    _, info = train_model(dict(spec, method="transformer"), streams, y, cfg)
    assert [(t["frozen_epochs"], t["epochs_run"]) for t in info["balance"]["schedules"]] == [(0, 2), (2, 3)]


def test_a_recipe_registered_without_a_method_argument_still_constructs(monkeypatch):
    from streamfuse.training.balance import WarmStart

    class Old(WarmStart):
        def __init__(self, num_streams, seed=0):  # the signature recipes had before recipes knew their method
            super().__init__(num_streams, seed)

    monkeypatch.setitem(BALANCE, "old", Old)
    recipe = make_recipe("old", 2, method="scalar")
    assert isinstance(recipe, Old) and recipe.method == "scalar" and recipe.schedules(6) == (0,)


def test_a_frozen_schedule_trains_on_the_single_stream_encoders_untouched(monkeypatch):
    # one epoch all frozen (ceil(1/3) = 1): the encoders, BatchNorm statistics included, are
    # exactly the singles' after training; the plain schedule fine-tunes them
    streams, y, spec = synthetic(n=64)
    spec = dict(spec, method="transformer")
    cfg = TrainConfig(epochs=1, batch_size=16, seed=2, width=16, balance="masked", keep_streams=True)
    singles, _, _, _ = _train_singles(spec, streams, y, cfg)
    for frozen in (0, 1):
        monkeypatch.setattr(BALANCE["masked"], "schedules", lambda self, epochs, f=frozen: (f,))
        model, _ = train_model(spec, streams, y, cfg)
        same = all(torch.equal(v, singles[s][k]) for s in spec["streams"] for k, v in model.encoders[s].state_dict().items())
        assert same == bool(frozen)
