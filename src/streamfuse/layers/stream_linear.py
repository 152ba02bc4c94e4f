"""``StreamLinear``: S independent linear maps applied in one batched matmul.

Shapes: ``(N, S, C_in) -> (N, S, C_out)``; stream ``s`` uses its own weight ``W_s (C_in, C_out)``.
When every stream has the same width this replaces a Python loop over S ``nn.Linear`` modules
by a single ``baddbmm``, which is what keeps fusion cost linear in S with a small constant.
"""

from __future__ import annotations

import math
from typing import Any

import torch
from torch import nn
from torch.types import Device


class StreamLinear(nn.Module):
    """Per-stream linear layer, batched over streams.

    Args:
        num_streams: S.
        in_features: C_in (the same for every stream).
        out_features: C_out.
        bias: add a per-stream bias ``(S, C_out)``.

    Shapes: input ``(N, S, C_in)``, output ``(N, S, C_out)``.
    """

    def __init__(
        self,
        num_streams: int,
        in_features: int,
        out_features: int,
        bias: bool = True,
        device: Device = None,
        dtype: torch.dtype | None = None,
    ) -> None:
        super().__init__()
        factory: dict[str, Any] = {"device": device, "dtype": dtype}
        self.num_streams, self.in_features, self.out_features = num_streams, in_features, out_features
        self.weight = nn.Parameter(torch.empty(num_streams, in_features, out_features, **factory))
        self.bias = nn.Parameter(torch.empty(num_streams, out_features, **factory)) if bias else None
        self.reset_parameters()

    def reset_parameters(self) -> None:
        # The same range nn.Linear uses (kaiming-uniform with a=sqrt(5) reduces to 1/sqrt(fan_in)).
        bound = 1.0 / math.sqrt(self.in_features)
        nn.init.uniform_(self.weight, -bound, bound)
        if self.bias is not None:
            nn.init.uniform_(self.bias, -bound, bound)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        xs = x.transpose(0, 1)  # (S, N, C_in): streams become the bmm batch
        if self.bias is None:
            out = torch.bmm(xs, self.weight)
        else:
            out = torch.baddbmm(self.bias.unsqueeze(1), xs, self.weight)
        return out.transpose(0, 1)

    def extra_repr(self) -> str:
        return (
            f"num_streams={self.num_streams}, in_features={self.in_features}, "
            f"out_features={self.out_features}, bias={self.bias is not None}"
        )
