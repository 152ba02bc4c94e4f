"""``Fusion``: the one base class every fusion method derives from.

Shape legend used in every docstring:
    N  batch            S  number of streams        C_i  channels of stream i
    D  fused width      L  tokens (flattened spatial/temporal positions of a map)

The base owns everything that is the same for all methods, so each method file holds only its
math (``fuse``): turning a list/dict of streams into a checked list in a fixed order (or checking
a stack ``(N, S, C[, *spatial])`` of streams of one width, for ``fuse_stacked``), errors that
name the stream, pooling maps to vectors for vector-level methods, the presence mask (absent
streams are zeroed *before* the method sees them, so their values cannot leak), stream dropout,
casting streams to the parameters' dtype, broadcasting of per-stream weights to per-sample form,
checking option values against each method's declaration (``options``, see ``options.py``),
and recording the stream names and widths in the state dict so weights cannot be loaded into
other streams.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, ClassVar

import torch
from torch import nn
from torch.types import Device

from .errors import StreamFuseError
from .errors import shape_text as _shape
from .layers.masking import (
    convex_pair,
    normalize_weights,
    stream_dropout_mask,
    weighted_sum,
    weighted_sum_list,
    weighted_sum_streams,
)
from .layers.projection import StreamProjection
from .options import BASE_OPTIONS, Option
from .stream_record import StreamRecord

# a list in in_dims order, a dict keyed by stream name, or one tensor: the streams stacked on dim 1
Streams = Sequence[torch.Tensor] | Mapping[str, torch.Tensor] | torch.Tensor
InDims = Sequence[int] | Mapping[str, int]  # stream widths C_i, as a list or name -> width


def parse_in_dims(
    in_dims: InDims, min_streams: int = 1, max_streams: int | None = None, method: str = "fusion"
) -> tuple[list[str], list[int]]:
    """Return ``(names, widths)`` from a list of widths or a name->width dict, validated."""
    if isinstance(in_dims, Mapping):
        names, dims = [str(k) for k in in_dims], list(in_dims.values())
    elif isinstance(in_dims, Sequence) and not isinstance(in_dims, str):
        dims = list(in_dims)
        names = [f"stream{i}" for i in range(len(dims))]
    else:
        raise StreamFuseError(
            f"in_dims must be a list of stream widths like [17, 3] or a dict like "
            f"{{'pose': 17, 'rgb': 3}}; got {type(in_dims).__name__} {in_dims!r}"
        )
    for name, c in zip(names, dims):
        if isinstance(c, bool) or not isinstance(c, int) or c < 1:
            raise StreamFuseError(f"stream {name!r}: in_dims entry must be a positive int, got {c!r}")
    repeated = sorted({n for n in names if names.count(n) > 1})
    if repeated:
        raise StreamFuseError(
            f"in_dims: stream names must be distinct as strings; {repeated} occur more than once in "
            f"{list(in_dims)!r} (keys are converted with str())"
        )
    hi = "any number of" if max_streams is None else f"at most {max_streams}"
    if len(dims) < min_streams or (max_streams is not None and len(dims) > max_streams):
        raise StreamFuseError(
            f"{method!r} needs at least {min_streams} and {hi} streams; in_dims has {len(dims)}: {in_dims!r}"
        )
    return names, dims


class Fusion(StreamRecord, nn.Module):
    """Fuse S streams into one ``(N, D)`` vector per sample.

    Call: ``fusion(streams, mask=None, return_weights=False)``

    - ``streams``: list of S tensors in ``in_dims`` order, or a dict keyed by the stream names
      (``in_dims`` given as a dict fixes the names and their order). Stream i is ``(N, C_i)`` or
      a channels-first map ``(N, C_i, *spatial)`` of any rank. Vector-level methods average-pool
      maps over their spatial positions; token-level methods need maps. When every stream has one
      width C, ``streams`` may also be one tensor ``(N, S, C[, *spatial])`` with stream i at
      ``[:, i]`` (the per-view features of a shared backbone, reshaped from ``(N * S, C)``): the
      same result as the list, and methods that can (``fuse_stacked``) read it without a stack copy.
    - ``mask``: optional bool ``(N, S)``, True where a stream is present. Absent streams cannot
      affect the output; weights renormalise over present streams. A row with no stream present
      is an error (checked in eager mode; under ``torch.compile`` it gives NaN instead).
    - returns ``(N, D)``, or ``(fused, weights)`` with ``weights`` ``(N, S)`` (stream level),
      ``(N, S, D)`` (channel level) or None (methods without weights).

    Common options (``BASE_OPTIONS``): ``stream_dropout`` (training only: drop whole streams with
    this probability, never all of a sample's streams), ``check_finite`` (reject NaN/Inf; off by
    default because it synchronises with the device), ``device``, ``dtype``. A method declares
    its own options in ``options`` (``{name: Option}``); every value is checked by
    ``check_option`` against that declaration.

    Dtypes: floating streams whose dtype differs from the parameters' (float64 or float16 into a
    float32 module) are cast to the parameters' dtype, and the output has that dtype; under
    ``torch.autocast`` streams are left to autocast. Integer and bool streams are refused.

    Checkpoints: the state dict carries the stream names and widths (``_extra_state``), and
    loading it into a fusion whose streams are named, ordered or sized differently raises
    ``StreamFuseError``. A state dict saved before this existed has no such entry; it loads
    (matched by position, as before) with a warning that the streams could not be checked.
    """

    name: ClassVar[str] = "fusion"
    token_level: bool = False  # per class; transformer sets it per instance (mode="tokens")
    weight_level: ClassVar[str | None] = "stream"  # "stream" | "channel" | None
    min_streams: ClassVar[int] = 1
    max_streams: ClassVar[int | None] = None
    options: ClassVar[dict[str, Option]] = {}  # the method's own options; BASE_OPTIONS are added
    reads_stacks: ClassVar[bool] = False  # set per class below: fuse_stacked reads a stack directly

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)

        def owner(attr: str) -> type:
            return next(k for k in cls.__mro__ if attr in vars(k))

        # A stack reaches fuse_stacked only where that was written for this class's math: a
        # subclass that changes fuse (the list math) but inherits its parent's fuse_stacked
        # would have its own math bypassed, so it is given the stack's views through fuse.
        stacked = owner("fuse_stacked")
        cls.reads_stacks = stacked is not Fusion and issubclass(stacked, owner("fuse"))

    def __init__(
        self,
        in_dims: InDims,
        dim: int | None = None,
        *,
        stream_dropout: float = 0.0,
        check_finite: bool = False,
        device: Device = None,
        dtype: torch.dtype | None = None,
    ) -> None:
        super().__init__()
        self._option_values: dict[str, Any] = {}  # every value check_option accepted, by option name
        self.stream_names, self.in_dims = parse_in_dims(in_dims, self.min_streams, self.max_streams, self.name)
        if dim is not None and (isinstance(dim, bool) or not isinstance(dim, int) or dim < 1):
            raise StreamFuseError(f"{self.name}: dim (the fused width D) must be a positive int or None, got {dim!r}")
        self.dim: int = dim if dim is not None else max(self.in_dims)
        self.stream_dropout: float = self.check_option("stream_dropout", stream_dropout)
        self.check_finite: bool = self.check_option("check_finite", check_finite)
        self.factory: dict[str, Any] = {"device": self.check_option("device", device), "dtype": self.check_option("dtype", dtype)}

    @classmethod
    def option_specs(cls) -> dict[str, Option]:
        """Every option the method takes: its own declaration, then the shared ``BASE_OPTIONS``."""
        return {**cls.options, **BASE_OPTIONS}

    def check_option(self, option: str, value: Any) -> Any:
        """Validate ``value`` against the declared option; return it (numbers normalised).
        The value is remembered for ``recorded_options``."""
        value = self.option_specs()[option].check(option, value, self.name)
        self._option_values[option] = value
        return value

    def recorded_options(self) -> dict[str, Any]:
        """The option values saved with the weights (in the stream record) and checked when a
        state dict is loaded: every option declared ``recorded`` (those that change what the same
        weights compute, such as ``logit_scale``), an ``nn.Module`` class by its qualified name.
        None ("derive it", e.g. ``hidden=None``) is not recorded: a derived value that differs
        shows up as a parameter shape."""
        specs = self.option_specs()
        return {
            k: f"{v.__module__}.{v.__qualname__}" if isinstance(v, type) else v
            for k, v in self._option_values.items()
            if v is not None and specs[k].recorded
        }

    def register_logit_scale(self, value: float) -> float:
        """Check the ``logit_scale`` option and keep it also as a 0-dim buffer ``k`` (not saved:
        the stream record holds the value): multiplying by a tensor costs less than by a Python
        float, which PyTorch wraps into a new tensor on every call (~3 us on CPU)."""
        k: float = self.check_option("logit_scale", value)
        self.register_buffer("k", torch.tensor(k, **self.factory), persistent=False)
        return k

    def fold(self, copy_projection: bool = True) -> Fusion | None:
        """This fusion for inference with its input-independent weights folded into constants
        (``fusions/folded.py``: same outputs, no weight kernels per call), or None when there is
        nothing to fold (weights that depend on the input, or no weights). The source is not
        changed; its projection is copied unless ``copy_projection=False`` (then shared).
        ``streamfuse.fold_weights(model)`` folds every fusion of a model."""
        return None

    def no_weight_decay(self) -> set[str]:
        """Names (relative to this module) of parameters weight decay must not shrink: the
        stream-weight logits, priors and embeddings whose size *is* the learned preference
        (timm's convention; ``streamfuse.no_weight_decay_ids`` collects them for a whole model)."""
        return set()

    @property
    def num_streams(self) -> int:
        return len(self.in_dims)

    # ----------------------------------------------------------------------------- checking
    def check_streams(self, streams: Streams) -> list[torch.Tensor]:
        """Validate ``streams`` and return them as a list in the fixed stream order."""
        names = self.stream_names
        if isinstance(streams, (list, tuple)):  # first: an ABC isinstance (Mapping) costs more
            xs = list(streams)
        elif isinstance(streams, Mapping):
            missing = [k for k in names if k not in streams]
            extra = [k for k in streams if k not in names]
            if missing or extra:
                raise StreamFuseError(
                    f"{self.name}: stream keys do not match; missing {missing}, unexpected {extra}; "
                    f"expected exactly {names}"
                )
            xs = [streams[k] for k in names]
        else:
            raise StreamFuseError(
                f"{self.name}: expected a list of {len(names)} tensors, a dict with keys {names} or one "
                f"stack (N, S, C, ...) of them, got {type(streams).__name__}"
            )
        if len(xs) != len(names):
            one = xs[0] if len(xs) == 1 else None
            hint = (
                "; streams stacked into one tensor (N, S, C, ...) are passed as that tensor, not in a list"
                if isinstance(one, torch.Tensor) and one.dim() >= 3 and one.shape[1] == len(names) else ""
            )
            raise StreamFuseError(
                f"{self.name}: expected {len(names)} streams {names} with channels {self.in_dims}, "
                f"got {len(xs)}: {[_shape(x) for x in xs]}{hint}"
            )
        # This runs on every call: each tensor attribute is read once (``x.device`` builds a new
        # object per read), and the checks that pass are cheap comparisons.
        first = None
        min_rank = 3 if self.token_level else 2
        for name, c, x in zip(names, self.in_dims, xs):
            if not isinstance(x, torch.Tensor):
                raise StreamFuseError(f"stream {name!r}: expected a torch.Tensor, got {type(x).__name__}")
            if not x.is_floating_point():
                raise StreamFuseError(
                    f"stream {name!r}: expected a floating-point tensor, got dtype {x.dtype}; "
                    f"convert with .float()"
                )
            shape = x.shape
            if len(shape) < min_rank:
                want = "(N, C, *spatial) map" if self.token_level else "(N, C) vector or (N, C, *spatial) map"
                hint = (
                    f" Method {self.name!r} attends over tokens: pass the un-pooled feature map, "
                    f"or use a vector-level method (e.g. 'attention')." if self.token_level else ""
                )
                raise StreamFuseError(
                    f"stream {name!r}: expected a {want} with C={c}, got shape {_shape(x)}.{hint}"
                )
            if shape[1] != c:
                raise StreamFuseError(
                    f"stream {name!r}: expected {c} channels (dim 1) as set by in_dims, got shape {_shape(x)}"
                )
            if len(shape) > 2 and 0 in shape[2:]:
                raise StreamFuseError(
                    f"stream {name!r}: a map needs at least one position along every spatial axis, "
                    f"got shape {_shape(x)} (an empty axis would average over nothing)"
                )
            if first is None:
                first, batch, device = (name, x), shape[0], x.device
            else:
                if shape[0] != batch:
                    raise StreamFuseError(
                        f"stream {name!r}: batch size {shape[0]} differs from stream {first[0]!r}'s "
                        f"{batch} (shapes {_shape(x)} vs {_shape(first[1])})"
                    )
                if x.device != device:
                    raise StreamFuseError(
                        f"stream {name!r} is on {x.device} but stream {first[0]!r} is on "
                        f"{device}; move all streams to one device"
                    )
        return xs

    def check_stacked(self, x: torch.Tensor) -> torch.Tensor:
        """Validate streams stacked on dim 1, ``(N, S, C[, *spatial])``; return them unchanged."""
        names, s, c = self.stream_names, self.num_streams, self.in_dims[0]
        if any(ci != c for ci in self.in_dims):
            raise StreamFuseError(
                f"{self.name}: one tensor is read as the streams stacked on dim 1, (N, S, C, ...), which needs "
                f"one width for every stream; got shape {_shape(x)} for streams {dict(zip(names, self.in_dims))}. "
                f"Pass a list or dict of {s} tensors instead"
            )
        if not x.is_floating_point():
            raise StreamFuseError(f"stacked streams {names}: expected a floating-point tensor, got dtype {x.dtype}; convert with .float()")
        rank = 4 if self.token_level else 3
        if x.dim() < rank or x.shape[1] != s or x.shape[2] != c:
            want = f"(N, S, C, *spatial) = (N, {s}, {c}, ...)" if self.token_level else f"(N, S, C[, *spatial]) = (N, {s}, {c})"
            if x.dim() >= 3 and x.shape[0] == s and x.shape[2] == c:
                hint = "torch.stack(xs) stacks on dim 0; stack the streams on dim 1: torch.stack(xs, dim=1)"
            elif x.dim() == 2 and x.shape[1] == c and x.shape[0] % s == 0:
                hint = f"S streams of each sample in consecutive rows, (N * S, C), become a stack with .view(-1, {s}, {c})"
            elif self.token_level and x.dim() == 3:
                hint = "this method attends over tokens: stack the un-pooled maps, (N, S, C, *spatial)"
            else:
                hint = f"otherwise pass a list or dict of {s} tensors"
            raise StreamFuseError(
                f"{self.name}: one tensor is read as the streams {names} stacked on dim 1; expected {want}, "
                f"got shape {_shape(x)}; {hint}"
            )
        if x.dim() > 3 and 0 in x.shape[3:]:
            raise StreamFuseError(
                f"stacked streams {names}: a map needs at least one position along every spatial axis, got shape {_shape(x)}"
            )
        return x

    def check_finite_present(self, xs: list[torch.Tensor], mask: torch.Tensor | None) -> None:
        """``check_finite``: NaN/Inf in a present sample of a stream is an error. A sample the mask
        marks absent may hold anything (NaN is a common marker for a missing modality): its
        values never reach the output."""
        for i, (name, x) in enumerate(zip(self.stream_names, xs)):
            present = x if mask is None else x[mask[:, i]]
            if not bool(torch.isfinite(present).all()):
                bad = int((~torch.isfinite(present)).sum())
                where = "" if mask is None else " (present samples only)"
                raise StreamFuseError(f"stream {name!r}: {bad} NaN/Inf values{where} in a tensor of shape {_shape(x)}")

    def check_mask(self, mask: object, batch: int, device: torch.device) -> torch.Tensor | None:
        if mask is None:
            return None
        s = self.num_streams
        if not isinstance(mask, torch.Tensor) or mask.dtype != torch.bool:
            got = mask.dtype if isinstance(mask, torch.Tensor) else type(mask).__name__
            raise StreamFuseError(f"mask: expected a bool tensor (N, S) = ({batch}, {s}), got {got}")
        if tuple(mask.shape) != (batch, s):
            raise StreamFuseError(
                f"mask: expected shape (N, S) = ({batch}, {s}) for streams {self.stream_names}, got {_shape(mask)}"
            )
        if mask.device != device:
            raise StreamFuseError(f"mask is on {mask.device} but the streams are on {device}")
        if not torch.compiler.is_compiling():
            empty = ~mask.any(dim=1)
            if bool(empty.any()):
                rows = empty.nonzero().flatten()[:5].tolist()
                raise StreamFuseError(
                    f"mask: rows {rows} have no stream present; every sample needs at least one of {self.stream_names}"
                )
        return mask

    # ----------------------------------------------------------------------------- forward
    def forward(
        self, streams: Streams, mask: torch.Tensor | None = None, return_weights: bool = False
    ) -> torch.Tensor | tuple[torch.Tensor, torch.Tensor | None]:
        if isinstance(streams, torch.Tensor):
            return self.forward_stacked(streams, mask, return_weights)
        xs = self.check_streams(streams)
        batch, device = xs[0].shape[0], xs[0].device
        if mask is not None:
            mask = self.check_mask(mask, batch, device)
        if self.check_finite:
            self.check_finite_present(xs, mask)
        if self.training and self.stream_dropout > 0:
            mask = stream_dropout_mask(mask, batch, self.num_streams, self.stream_dropout, device)
        # The two conversions below rebuild the list only when some stream needs them, and the
        # autocast query runs only then too: on the common call (every stream a pooled vector of
        # the parameters' dtype) they cost one plain loop over the S streams (a generator
        # expression per test would cost more than the test).
        want = self.parameter_dtype()
        cast = maps = False
        for x in xs:
            if x.dtype != want:
                cast = True
            if x.ndim > 2:
                maps = True
        if cast and want is not None and not torch.is_autocast_enabled(device.type):
            xs = [x if x.dtype == want else x.to(want) for x in xs]
        if maps and not self.token_level:
            xs = [x.flatten(2).mean(-1) if x.ndim > 2 else x for x in xs]
        if mask is not None:
            # where(), not multiply: an absent stream holding NaN must not poison the output.
            xs = [
                torch.where(mask[:, i].view((-1,) + (1,) * (x.dim() - 1)), x, torch.zeros((), dtype=x.dtype, device=device))
                for i, x in enumerate(xs)
            ]
        fused, weights = self.fuse(xs, mask, return_weights)
        return (fused, weights) if return_weights else fused

    def forward_stacked(
        self, x: torch.Tensor, mask: torch.Tensor | None, return_weights: bool
    ) -> torch.Tensor | tuple[torch.Tensor, torch.Tensor | None]:
        """``forward`` for streams stacked into one tensor ``(N, S, C[, *spatial])``: the same
        checks, casts, pooling and masking, each one op over the stack instead of one per stream."""
        x = self.check_stacked(x)
        batch, device = x.shape[0], x.device
        if mask is not None:
            mask = self.check_mask(mask, batch, device)
        if self.check_finite:
            self.check_finite_present(list(x.unbind(1)), mask)
        if self.training and self.stream_dropout > 0:
            mask = stream_dropout_mask(mask, batch, self.num_streams, self.stream_dropout, device)
        want = self.parameter_dtype()
        if want is not None and x.dtype != want and not torch.is_autocast_enabled(device.type):
            x = x.to(want)
        if x.dim() > 3 and not self.token_level:
            x = x.flatten(3).mean(-1)
        if mask is not None:
            x = torch.where(mask.view(mask.shape + (1,) * (x.dim() - 2)), x, torch.zeros((), dtype=x.dtype, device=device))
        if self.reads_stacks:
            fused, weights = self.fuse_stacked(x, mask, return_weights)
        else:
            fused, weights = self.fuse(list(x.unbind(1)), mask, return_weights)  # views, no copy
        return (fused, weights) if return_weights else fused

    def fuse_stacked(
        self, x: torch.Tensor, mask: torch.Tensor | None, need_weights: bool
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        """``fuse`` for checked streams stacked on dim 1, ``(N, S, C)`` (``(N, S, C, *spatial)``
        for token-level methods), absent streams zeroed. A method that can read the stack directly
        (one batched op over the streams) overrides this; the others get the stack's views as the
        list ``fuse`` takes (``reads_stacks`` says which, per class)."""
        return self.fuse(list(x.unbind(1)), mask, need_weights)

    def fuse(
        self, xs: list[torch.Tensor], mask: torch.Tensor | None, need_weights: bool
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Method math. ``xs``: checked streams, ``(N, C_i)`` (``(N, C_i, *spatial)`` for
        token-level methods), absent streams zeroed. ``mask``: bool ``(N, S)`` or None.
        Return ``(fused (N, D), weights or None)``; weights may be skipped if not ``need_weights``."""
        raise NotImplementedError

    def parameter_dtype(self) -> torch.dtype | None:
        """The dtype streams are cast to: that of the first floating parameter (None if none)."""
        # The module's own parameters come first in ``parameters()`` too; reading them directly
        # skips building the recursive generator (~3 us a call) for every method with a weight
        # parameter of its own.
        for p in self._parameters.values():
            if p is not None and p.is_floating_point():
                return p.dtype
        for p in self.parameters():
            if p.is_floating_point():
                return p.dtype
        return None

    # ----------------------------------------------------------------------------- helpers
    def build_projection(
        self, project: bool | None, stream_norm: bool, mlp: bool = False, act_layer: type[nn.Module] = nn.GELU
    ) -> StreamProjection:
        """Per-stream projection to D. ``project=None`` projects unless every ``C_i == D``."""
        if project is None:
            project = mlp or any(c != self.dim for c in self.in_dims)
        if not project and any(c != self.dim for c in self.in_dims):
            raise StreamFuseError(
                f"{self.name}: project=False needs every stream to have width D={self.dim}; "
                f"got {dict(zip(self.stream_names, self.in_dims))}"
            )
        return StreamProjection(self.in_dims, self.dim, project, mlp, stream_norm, act_layer, **self.factory)

    def shared_weights(self, logits: torch.Tensor, mode: str, mask: torch.Tensor | None) -> torch.Tensor:
        """Normalise input-independent logits ``(S,)``/``(S, D)``: once, still ``(S[, D])``, when
        there is no mask (not N identical copies), per sample ``(N, S[, D])`` when there is one."""
        if mask is None:
            # the every-call case goes straight to the softmax (two Python frames fewer)
            return torch.softmax(logits, 0) if mode == "softmax" else normalize_weights(logits, mode, None, dim=0)
        return normalize_weights(self.per_sample(logits, mask.shape[0]), mode, mask)

    def project_and_sum(
        self, xs: list[torch.Tensor] | torch.Tensor, weights: torch.Tensor | None, shared: bool = False, convex: bool = False
    ) -> torch.Tensor:
        """``sum_s weights_s * proj(x_s)`` with ``weights`` ``(N, S[, D])``, or ``(S[, D])`` for
        every sample when ``shared`` (None: a plain sum); ``self.proj`` required. ``xs``: the list
        of streams, or the streams stacked ``(N, S, C)`` (``fuse_stacked``), which is projected
        and summed as it is (stream-level weights: one batched product at inference).
        Unless the projection is one batched matmul over stacked streams, a list is summed
        without being stacked (no stacked copy is made or kept for backward).
        ``convex``: the shared weights sum to one over streams (a softmax), so without autograd
        two streams are summed as one ``lerp`` (``layers.masking.convex_pair``). With autograd
        recording the multiply-adds stay: lerp rounds differently in the last bit, and a model
        trained through it drifts from the same seed's run before it (BENCHMARKS.md's tables);
        inference gives the training path's output up to that rounding."""
        # read from the registry: ``self.proj`` goes through nn.Module.__getattr__, which on
        # Python 3.11 first fails the instance lookup (~6,000 instructions, a third of the checks)
        proj = self._modules.get("proj")
        if not isinstance(proj, StreamProjection):
            raise TypeError(f"{self.name}: project_and_sum needs self.proj from build_projection, got {type(proj).__name__}")
        convex = convex and not torch.is_grad_enabled()
        if proj.batched or isinstance(xs, torch.Tensor):
            x: torch.Tensor = proj(xs)  # (N, S, D)
            if weights is None:
                return x.sum(dim=1)
            if shared:
                if convex and x.shape[1] == 2:
                    return convex_pair(x[:, 0], x[:, 1], weights[0])
                if weights.dtype == x.dtype and not torch.is_grad_enabled():
                    if weights.dim() == 1 and not torch.is_autocast_enabled(x.device.type):  # (autocast would run it in low precision)
                        return torch.matmul(weights, x)  # (S,) @ (N, S, D): one batched product
                    if x.is_cpu:  # (S, D): multiply-adds over views (weighted_sum says why CPU only)
                        return weighted_sum_list(list(x.unbind(1)), weights.unbind(0))
                weights = weights.unsqueeze(0)
            return weighted_sum(x, weights.expand((x.shape[0],) + tuple(weights.shape[1:])))
        parts = proj.project_each(xs)
        if weights is not None and shared:
            if convex and len(parts) == 2 and parts[0].dtype == parts[1].dtype:  # (lerp needs one dtype)
                return convex_pair(parts[0], parts[1], weights[0])
            return weighted_sum_list(parts, weights.unbind(0))
        if weights is not None:
            return weighted_sum_streams(parts, weights)
        out = parts[0]
        for x in parts[1:]:
            out = out + x
        return out

    def per_sample(self, weights: torch.Tensor, batch: int) -> torch.Tensor:
        """Broadcast input-independent weights ``(S,)``/``(S, D)`` to ``(N, S)``/``(N, S, D)``."""
        return weights.unsqueeze(0).expand((batch,) + tuple(weights.shape))

    def extra_repr(self) -> str:
        streams = ", ".join(f"{n}={c}" for n, c in zip(self.stream_names, self.in_dims))
        return f"streams=[{streams}], dim={self.dim}"
