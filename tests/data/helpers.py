"""Small numpy classifiers and statistics the data tests use to check label information."""

from __future__ import annotations

import numpy as np
import torch


def flat(x: torch.Tensor, pool: int = 1) -> np.ndarray:
    """(N, C, ...) tensor -> (N, features) array; video/image inputs average-pooled by ``pool``."""
    a = x.numpy()
    if pool > 1 and a.ndim >= 4:
        *lead, h, w = a.shape
        a = a.reshape(*lead, h // pool, pool, w // pool, pool).mean(axis=(-3, -1))
    return a.reshape(len(a), -1)


def centroid_accuracy(xtr: np.ndarray, ytr: np.ndarray, xte: np.ndarray, yte: np.ndarray) -> float:
    """Test accuracy of a nearest-class-mean classifier on features z-scored with train stats."""
    mean, std = xtr.mean(0), xtr.std(0) + 1e-6
    xtr, xte = (xtr - mean) / std, (xte - mean) / std
    classes = np.unique(ytr)
    centroids = np.stack([xtr[ytr == c].mean(0) for c in classes])
    dist = (xte**2).sum(1)[:, None] - 2 * xte @ centroids.T + (centroids**2).sum(1)[None]
    return float((classes[dist.argmin(1)] == yte).mean())


def split_accuracy(data, stream: str, pool: int = 1) -> float:
    """Nearest-centroid test accuracy of one stream of a MultiStreamData."""
    return centroid_accuracy(
        flat(data.train.streams[stream], pool), data.train.labels.numpy(),
        flat(data.test.streams[stream], pool), data.test.labels.numpy(),
    )  # fmt: skip


def label_dependence(x: np.ndarray, y: np.ndarray) -> float:
    """Mean over features and classes of N * corr(feature, one-hot class)^2.

    About 1 when features are independent of the labels (each term is ~chi-square with 1 degree
    of freedom); larger when some features carry label information.
    """
    onehot = np.eye(int(y.max()) + 1)[y]
    xc = (x - x.mean(0)) / (x.std(0) + 1e-12)
    yc = (onehot - onehot.mean(0)) / onehot.std(0)
    r = xc.T @ yc / len(x)
    return float((r**2).mean() * len(x))
