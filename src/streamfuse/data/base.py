"""The containers every dataset loader returns, and the error they raise.

A dataset is a set of named *streams* (views, modalities) of the same N samples plus one integer
label per sample. Shapes, per stream ``i`` with ``C_i`` channels:

* ``"vector"``   -- ``(N, C_i)``
* ``"sequence"`` -- ``(N, C_i, L)``
* ``"image"``    -- ``(N, C_i, H, W)``          (user data only)
* ``"video"``    -- ``(N, C_i, T, H, W)``

Streams are float32, labels int64 in ``0 .. num_classes - 1``. The containers check this on
construction, so a loader bug (or a hand-built ``Split``) fails where it happens, not deep inside a
training loop.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from streamfuse.errors import StreamFuseError

#: Tensor rank (including the sample axis) each kind of stream has.
KIND_RANKS = {"vector": 2, "sequence": 3, "image": 4, "video": 5}


class DataError(StreamFuseError):
    """A dataset could not be loaded or built: names the file/stream, what was got and expected."""


@dataclass(repr=False)
class Split:
    """One partition (train or test) of a multi-stream dataset.

    streams: name -> float32 tensor ``(N, C_i, *spatial)`` or ``(N, C_i)``
    labels:  int64 tensor ``(N,)``
    """

    streams: dict[str, torch.Tensor]
    labels: torch.Tensor

    def __post_init__(self) -> None:
        if not isinstance(self.labels, torch.Tensor) or self.labels.dtype != torch.int64:
            got = self.labels.dtype if isinstance(self.labels, torch.Tensor) else type(self.labels)
            raise DataError(f"labels must be an int64 torch tensor; got {got}.")
        if self.labels.dim() != 1:
            raise DataError(f"labels must have shape (N,); got {tuple(self.labels.shape)}.")
        n = self.labels.shape[0]
        for name, x in self.streams.items():
            if not isinstance(x, torch.Tensor) or x.dtype != torch.float32:
                got = x.dtype if isinstance(x, torch.Tensor) else type(x)
                raise DataError(f"stream {name!r} must be a float32 torch tensor; got {got}.")
            if x.dim() < 2 or x.shape[0] != n:
                raise DataError(
                    f"stream {name!r} has shape {tuple(x.shape)}; expected (N={n}, C, ...) "
                    f"to match {n} labels."
                )

    def __len__(self) -> int:
        return int(self.labels.shape[0])

    def __repr__(self) -> str:
        shapes = ", ".join(f"{k}={tuple(v.shape)}" for k, v in self.streams.items())
        return f"Split(n={len(self)}, {shapes})"


@dataclass(repr=False)
class MultiStreamData:
    """A labelled multi-stream dataset with a fixed train/test split (see module docstring)."""

    name: str
    stream_names: list[str]
    kinds: dict[str, str]
    num_classes: int
    class_names: list[str]
    train: Split
    test: Split
    citation: str

    def __post_init__(self) -> None:
        names = list(self.stream_names)
        for split_name, split in (("train", self.train), ("test", self.test)):
            if list(split.streams) != names:
                raise DataError(
                    f"{self.name}: {split_name} streams {list(split.streams)} do not match "
                    f"stream_names {names} (same names, same order expected)."
                )
            if len(split) and (split.labels.min() < 0 or split.labels.max() >= self.num_classes):
                raise DataError(
                    f"{self.name}: {split_name} labels span {int(split.labels.min())}.."
                    f"{int(split.labels.max())}; expected 0..{self.num_classes - 1}."
                )
        if len(self.class_names) != self.num_classes:
            raise DataError(
                f"{self.name}: {len(self.class_names)} class_names for num_classes="
                f"{self.num_classes}; expected one name per class."
            )
        for name in names:
            kind = self.kinds.get(name)
            if kind not in KIND_RANKS:
                raise DataError(
                    f"{self.name}: stream {name!r} has kind {kind!r}; expected one of "
                    f"{', '.join(KIND_RANKS)}."
                )
            rank = self.train.streams[name].dim()
            if rank != KIND_RANKS[kind]:
                raise DataError(
                    f"{self.name}: stream {name!r} of kind {kind!r} has rank {rank}; "
                    f"expected rank {KIND_RANKS[kind]} (N, C, ...)."
                )
            tr, te = self.train.streams[name].shape[1:], self.test.streams[name].shape[1:]
            if tr != te:
                raise DataError(
                    f"{self.name}: stream {name!r} has per-sample shape {tuple(tr)} in train "
                    f"but {tuple(te)} in test; expected the same."
                )

    def __repr__(self) -> str:
        shapes = {k: tuple(self.train.streams[k].shape[1:]) for k in self.stream_names}
        streams = ", ".join(f"{k}:{self.kinds[k]}{shapes[k]}" for k in self.stream_names)
        return (
            f"MultiStreamData({self.name!r}, classes={self.num_classes}, "
            f"train={len(self.train)}, test={len(self.test)}, streams=[{streams}])"
        )
