import torch

from streamfuse.training import TrainConfig, predict, stratified_split, train_model
from streamfuse.training.loop import macro_f1


def synthetic(n=120, seed=0):
    """Two vector streams and a sequence stream; only 'a' carries the label."""
    g = torch.Generator().manual_seed(seed)
    y = torch.arange(n) % 3
    a = torch.randn(n, 6, generator=g) * 0.3
    a[torch.arange(n), y] += 2.0
    b = torch.randn(n, 4, generator=g)
    c = torch.randn(n, 2, 12, generator=g)
    spec = {
        "method": "attention",
        "streams": ["a", "b", "c"],
        "kinds": {"a": "vector", "b": "vector", "c": "sequence"},
        "in_channels": {"a": 6, "b": 4, "c": 2},
        "num_classes": 3,
        "width": 16,
        "dim": None,
        "dropout": 0.1,
        "fusion_options": {},
    }
    return {"a": a, "b": b, "c": c}, y, spec


def test_training_learns_and_is_deterministic_per_seed():
    streams, y, spec = synthetic()
    cfg = TrainConfig(epochs=10, batch_size=16, seed=1, width=16)  # attention's query scorer: 0.84 after 6
    m1, info = train_model(spec, streams, y, cfg)
    m2, _ = train_model(spec, streams, y, cfg)
    for (k, p1), p2 in zip(m1.state_dict().items(), m2.state_dict().values()):
        assert torch.equal(p1, p2), f"{k} differs between two runs with the same seed"
    acc = (predict(m1, streams).argmax(1) == y).float().mean()
    assert acc > 0.9 and info["val_accuracy"] > 0.8
    m3, _ = train_model(spec, streams, y, TrainConfig(epochs=1, batch_size=16, seed=2, width=16))
    assert not torch.equal(next(iter(m1.parameters())), next(iter(m3.parameters())))


def test_early_stopping_restores_best_epoch():
    streams, y, spec = synthetic()
    y = y[torch.randperm(len(y), generator=torch.Generator().manual_seed(0))]  # no signal: validation stalls
    _, info = train_model(spec, streams, y, TrainConfig(epochs=30, patience=2, batch_size=16, width=16, lr=1e-2))
    assert info["epochs_run"] < 30
    assert info["best_epoch"] == max(range(len(info["history"])), key=lambda i: (info["history"][i]["val_accuracy"], -info["history"][i]["val_loss"])) + 1


def test_stratified_split_keeps_classes():
    y = torch.tensor([0] * 20 + [1] * 10 + [2] * 3)
    tr, va = stratified_split(y, 0.2, seed=0)
    assert len(set(tr.tolist()) & set(va.tolist())) == 0 and len(tr) + len(va) == len(y)
    assert [int((y[va] == c).sum()) for c in range(3)] == [4, 2, 1]


def test_macro_f1():
    pred = torch.tensor([0, 0, 1, 1, 2])
    y = torch.tensor([0, 1, 1, 1, 2])
    # class 0: tp1 fp1 fn0 -> 2/3; class 1: tp2 fp0 fn1 -> 0.8; class 2: 1
    assert abs(macro_f1(pred, y, 3) - (2 / 3 + 0.8 + 1) / 3) < 1e-9


def test_aux_loss_adds_the_mean_per_stream_cross_entropy():
    import torch.nn.functional as F

    from streamfuse.training import build_model
    from streamfuse.training.balance import make_recipe
    from streamfuse.training.loop import _loss

    streams, y, spec = synthetic(n=16)
    torch.manual_seed(0)
    model = build_model(dict(spec, aux_loss=0.5)).eval()  # eval: dropout off, so both calls agree
    loss, _ = _loss(model, streams, y, 0.5, make_recipe("none", 3))
    scores, aux = model(streams, return_aux=True)
    expected = F.cross_entropy(scores, y) + 0.5 * sum(F.cross_entropy(a, y) for a in aux.values()) / 3
    torch.testing.assert_close(loss, expected)
    loss.backward()
    for name, p in model.aux_heads.named_parameters():
        assert p.grad is not None and p.grad.abs().sum() > 0, f"aux head {name} got no gradient"


def test_training_updates_aux_heads_only_when_aux_loss_is_set():
    from streamfuse.training import build_model

    streams, y, spec = synthetic(n=48)
    cfg = TrainConfig(epochs=1, batch_size=16, seed=3, width=16)
    for aux_loss in (0.0, 1.0):
        s = dict(spec, aux_loss=aux_loss)
        torch.manual_seed(cfg.seed)  # train_model builds the model right after seeding the same way
        init = build_model(s).state_dict()
        model, _ = train_model(s, streams, y, cfg)
        heads = {k: v for k, v in model.state_dict().items() if k.startswith("aux_heads.")}
        if aux_loss == 0:
            assert not heads
        else:
            assert heads and all(not torch.equal(v, init[k]) for k, v in heads.items() if k.endswith("weight"))


def test_param_groups_spare_biases_norms_and_weight_logits_from_decay():
    from streamfuse.training import build_model
    from streamfuse.training.loop import param_groups

    _, _, spec = synthetic(n=4)
    for method, logit in (("scalar", "head.fusion.theta"), ("channel", "head.fusion.theta"), ("attention", "head.fusion.stream_bias"),
                          ("cross_attention", "head.fusion.embed.stream_embed"), ("late_learned", "theta")):
        model = build_model(dict(spec, method=method))
        names = {id(p): n for n, p in model.named_parameters()}
        decay, keep = param_groups(model, 0.05)
        assert decay["weight_decay"] == 0.05 and keep["weight_decay"] == 0.0
        kept = {names[id(p)] for p in keep["params"]}
        decayed = {names[id(p)] for p in decay["params"]}
        fc = "classifiers.a.3" if method == "late_learned" else "head.fc"
        assert logit in kept and f"{fc}.bias" in kept and f"{fc}.weight" in decayed
        assert all(model.get_parameter(n).dim() > 1 for n in decayed)
        assert len(kept) + len(decayed) == len(names)
    (only,) = param_groups(model, 0.05, decay_all=True)
    assert len(only["params"]) == len(names) and only["weight_decay"] == 0.05


def test_stacked_training_freezes_encoders_trained_alone_on_the_other_half():
    from dataclasses import replace

    from streamfuse.training.loop import take

    streams, y, spec = synthetic()
    cfg = TrainConfig(epochs=4, batch_size=16, seed=3, width=16, stacked=True)
    model, _ = train_model(spec, streams, y, cfg)
    assert not any(p.requires_grad for p in model.encoders.parameters())
    assert any(p.requires_grad for p in model.head.parameters())
    model.train()
    assert not any(m.training for m in model.encoders.modules()), "frozen encoders keep BatchNorm in eval"
    # Stage 1 is exactly "single:<stream>" trained on one stratified half: same weights, same
    # BatchNorm statistics, untouched by the head's training on the other half.
    half_a, _ = stratified_split(y, 0.5, cfg.seed)
    solo = replace(cfg, stacked=False)
    for s in spec["streams"]:
        single, _ = train_model(dict(spec, method=f"single:{s}"), take(streams, half_a), y[half_a], solo)
        for (k, want), got in zip(single.encoders[s].state_dict().items(), model.encoders[s].state_dict().values()):
            assert torch.equal(want, got), f"encoder {s}: {k} differs from the stage-1 model"
    # Baselines ignore stacked and train as usual.
    late_stacked, _ = train_model(dict(spec, method="late"), streams, y, cfg)
    late_plain, _ = train_model(dict(spec, method="late"), streams, y, solo)
    assert all(torch.equal(a, b) for a, b in zip(late_stacked.state_dict().values(), late_plain.state_dict().values()))


def test_early_stopping_returns_the_best_epochs_weights_not_the_last():
    """The returned model scores the best epoch's validation accuracy, which the last epoch missed."""
    streams, y, spec = synthetic(n=120)
    y = y[torch.randperm(len(y), generator=torch.Generator().manual_seed(0))]  # no signal: validation wanders, then stalls
    cfg = TrainConfig(epochs=30, patience=3, batch_size=16, width=16, lr=1e-2, seed=4)
    model, info = train_model(spec, streams, y, cfg)
    history = info["history"]
    _, va = stratified_split(y, cfg.val_fraction, cfg.seed)
    scores = predict(model, {k: v[va] for k, v in streams.items()})
    best = history[info["best_epoch"] - 1]
    assert info["best_epoch"] < info["epochs_run"]  # training went on past the best epoch, so a restore was needed
    assert (history[-1]["val_accuracy"], history[-1]["val_loss"]) != (best["val_accuracy"], best["val_loss"])
    # the returned weights are the best epoch's: they score its validation accuracy and loss again
    assert abs((scores.argmax(1) == y[va]).float().mean().item() - best["val_accuracy"]) < 1e-6
    assert abs(torch.nn.functional.cross_entropy(scores, y[va]).item() - best["val_loss"]) < 1e-5
