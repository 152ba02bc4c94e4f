"""The ``linear`` bench baseline: multinomial logistic regression on pooled, standardised streams.

What a careful practitioner tries first on multi-view data, so every bench table shows whether
deep fusion earns its keep. Fitted with scikit-learn's ``LogisticRegression`` (lbfgs, multinomial
loss for more than two classes; Pedregosa et al., "Scikit-learn: Machine Learning in Python",
JMLR 12, 2011, https://jmlr.org/papers/v12/pedregosa11a.html).

Features, per stream (concatenated in stream order):

    vector   (N, C)            the C features themselves
    maps     (N, C, *spatial)  per channel the mean and the std over all positions -> (N, 2C)

each standardised with the mean and std of the samples the regression is fitted on
(``StandardScaler``; a constant feature is only centred). The inverse regularisation strength
``C`` is chosen from ``C_GRID`` by accuracy on the validation split the deep models use for early
stopping (``training.loop.stratified_split`` with the run's ``val_fraction`` and seed; ties go to
the lower validation log-loss), and the regression is fitted on the same remaining training
samples the deep models train on (not refitted on train + validation), so all rows of a table
see the same data.

The fitted model is wrapped as ``LinearBaseline`` (``training/linear_model.py``), a torch module with the bench models' call
signature (``model(streams, mask=None)`` -> scores ``(N, K)``), so the bench scores it, counts its
parameters and measures its stream importance like every other row. Removing a stream through the
mask drops its term from the logits, which equals replacing its standardised features by their
training mean (0): "mean replacement" importance, exact and cheap for a linear model.
"""

from __future__ import annotations

import copy
import math
import time

import torch

from ..errors import StreamFuseError
from ..training.linear_model import LinearBaseline, pooled_features
from ..training.loop import stratified_split

C_GRID = (1e-3, 1e-2, 1e-1, 1.0, 10.0, 100.0)
MAX_ITER = 2000


def _score(clf, feats, y) -> tuple[float, float]:
    from sklearn.metrics import log_loss

    proba = clf.predict_proba(feats)
    acc = float((clf.classes_[proba.argmax(1)] == y).mean())
    return acc, float(log_loss(y, proba, labels=clf.classes_))


def train_linear(spec: dict, streams: dict, labels: torch.Tensor, val_fraction: float, seed: int) -> tuple[LinearBaseline, dict]:
    """Fit the baseline on ``streams``/``labels`` (the training split); returns ``(model, info)``
    with ``C``, ``val_accuracy``, ``val_accuracy_by_C`` and ``train_seconds`` (search included)."""
    try:
        from sklearn.linear_model import LogisticRegression
        from sklearn.preprocessing import StandardScaler
    except ImportError as exc:
        raise StreamFuseError("the 'linear' baseline needs scikit-learn: pip install 'streamfuse[bench]'") from exc
    import numpy as np

    start = time.perf_counter()
    names = list(spec["streams"])
    feats = {s: pooled_features(streams[s]).numpy() for s in names}
    tr, va = stratified_split(labels, val_fraction, seed)
    x_all = np.concatenate([feats[s] for s in names], axis=1).astype(np.float64)
    y_all = labels.numpy()
    x_tr, y_tr, x_va, y_va = x_all[tr.numpy()], y_all[tr.numpy()], x_all[va.numpy()], y_all[va.numpy()]
    if len(np.unique(y_tr)) < 2:
        raise StreamFuseError(f"linear baseline: the training samples hold {len(np.unique(y_tr))} class; expected at least 2")
    scaler = StandardScaler().fit(x_tr)
    z_tr = scaler.transform(x_tr)
    z_va = scaler.transform(x_va) if len(va) else None
    best, by_c = None, {}
    # Ascending C, each fit starting from the previous solution (warm start): the same optimum up
    # to the solver's tolerance, found in fewer iterations.
    clf = LogisticRegression(max_iter=MAX_ITER, warm_start=True)
    for c in C_GRID if len(va) else (1.0,):  # no validation samples: scikit-learn's default C
        clf = copy.deepcopy(clf)  # the previous fit stays intact (it may be the best)
        clf.set_params(C=c).fit(z_tr, y_tr)
        acc, loss = _score(clf, z_va, y_va) if z_va is not None else (math.nan, math.nan)
        by_c[repr(c)] = acc
        if best is None or (acc, -loss) > (best[2], -best[3]):
            best = (c, clf, acc, loss)
    c, clf, val_acc = best[:3]

    widths = {s: feats[s].shape[1] for s in names}
    model = LinearBaseline(names, widths, spec["num_classes"])
    coef = np.zeros((spec["num_classes"], x_all.shape[1]))
    bias = np.full(spec["num_classes"], -1e4)  # a class absent from the fitted samples is never predicted
    if clf.coef_.shape[0] == 1:  # two classes: sklearn keeps one row, the logit of classes_[1]
        bias[clf.classes_[0]] = 0.0
        coef[clf.classes_[1]], bias[clf.classes_[1]] = clf.coef_[0], clf.intercept_[0]
    else:
        coef[clf.classes_], bias[clf.classes_] = clf.coef_, clf.intercept_
    with torch.no_grad():
        model.bias.copy_(torch.from_numpy(bias))
        lo = 0
        for i, s in enumerate(names):
            hi = lo + widths[s]
            model.weights[s].copy_(torch.from_numpy(coef[:, lo:hi]))
            mean, scale = model._stats(i)
            mean.copy_(torch.from_numpy(scaler.mean_[lo:hi]))
            scale.copy_(torch.from_numpy(scaler.scale_[lo:hi]))
            lo = hi
    info = {"C": c, "val_accuracy": val_acc, "val_accuracy_by_C": by_c, "train_seconds": time.perf_counter() - start,
            "features": widths, "train_samples": int(len(tr))}
    return model.eval(), info


def linear_spec(data) -> dict:
    """The run's ``spec`` for the linear baseline of ``data``."""
    return {
        "method": "linear",
        "streams": list(data.stream_names),
        "kinds": dict(data.kinds),
        "in_channels": {s: int(data.train.streams[s].shape[1]) for s in data.stream_names},
        "num_classes": int(data.num_classes),
        "C_grid": list(C_GRID),
    }
