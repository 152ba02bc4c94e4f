"""``ogm``: On-the-fly Gradient Modulation with Generalisation Enhancement (OGM-GE), S streams.

Peng et al., "Balanced Multimodal Learning via On-the-fly Gradient Modulation", CVPR 2022,
https://arxiv.org/abs/2203.15332: per batch, the encoder of the stream that is more confident
than the others gets its gradient scaled down, and Gaussian noise of the gradient's own std is
added back (GE) so the damped encoder keeps generalising:

    loss = CE(fused) + sum_i CE(stream_i)                 (stream heads on detached features)
    s_i  = sum_n softmax(stream_i scores)[n, y_n]         rho_i = s_i / mean_{j != i} s_j
    g_i <- k_i g_i + N(0, std(g_i)^2),   k_i = 1 - tanh(alpha (rho_i - 1)) if rho_i > 1 else 1

Peng et al. use ``tanh(alpha rho)`` for two streams; ``rho - 1`` makes equally confident streams
untouched and extends the rule to any number of streams and any fusion head.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from .base import BalanceRecipe, register_balance, stream_ces


@register_balance("ogm")
class GradientModulation(BalanceRecipe):
    """OGM-GE generalised to S streams and any fusion head.

    Stream i's confidence ``s_i`` comes from its own classifier, trained on detached features (a
    probe: it measures, it does not train the encoder). Each encoder's gradient becomes
    ``k_i g + N(0, std(g)^2)`` (see the module docstring). The noise term (``ge``) is drawn from a
    generator seeded by the run's seed, advanced identically on every DDP rank, so ranks add the
    same noise.
    """

    summary = "OGM-GE: each encoder's gradient scaled down while its stream dominates"
    stream_heads = True
    probe = True

    def __init__(self, num_streams: int, alpha: float = 0.5, ge: bool = True, seed: int = 0) -> None:
        super().__init__(num_streams, seed)
        self.alpha, self.ge = alpha, ge
        self.gen = torch.Generator().manual_seed(seed)
        self.coeff_sum = [0.0] * num_streams
        self.steps = 0

    def loss(self, out, y):
        scores, aux = out
        return F.cross_entropy(scores, y) + stream_ces(aux, y).sum()

    @classmethod
    def coefficients(cls, confidence: list[float], alpha: float) -> list[float]:
        """``k_i`` from per-stream confidences ``s_i`` (see the module docstring)."""
        out = []
        for i, s in enumerate(confidence):
            others = [c for j, c in enumerate(confidence) if j != i]
            rho = s / max(sum(others) / len(others), 1e-12) if others else 1.0
            out.append(1.0 - math.tanh(alpha * (rho - 1.0)) if rho > 1.0 else 1.0)
        return out

    def after_backward(self, model, out, y, all_sum):
        _, aux = out
        with torch.no_grad():
            conf = [a.float().softmax(1).gather(1, y[:, None]).sum().item() for a in aux.values()]
        conf = all_sum(conf)  # every rank applies the same coefficients
        coeffs = self.coefficients(conf, self.alpha)
        for k, (s, enc) in zip(coeffs, model.encoders.items()):
            for p in enc.parameters():
                if p.grad is None:
                    continue
                std = p.grad.std().item() if p.grad.numel() > 1 else 0.0
                p.grad.mul_(k)
                if self.ge and std > 0:
                    noise = torch.randn(p.grad.shape, generator=self.gen) * std
                    p.grad.add_(noise.to(p.grad.device, p.grad.dtype))
        self.coeff_sum = [a + b for a, b in zip(self.coeff_sum, coeffs)]
        self.steps += 1

    def state(self):
        return {"mean_coefficients": [c / max(self.steps, 1) for c in self.coeff_sum]}
