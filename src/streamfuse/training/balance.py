"""Balanced multi-stream training: recipes that keep one fast stream from starving the others.

With plain joint training the stream that lets the network fit the training set fastest takes
over and the others stop learning (Wang, Tran & Feiszli, "What Makes Training Multi-Modal
Classification Networks Hard?", CVPR 2020, https://arxiv.org/abs/1905.12681; Peng et al.,
"Balanced Multimodal Learning via On-the-fly Gradient Modulation", CVPR 2022,
https://arxiv.org/abs/2203.15332). A recipe changes how a fusion model is trained, never what it
computes at inference; baselines (``late``, ``single:*``) ignore it. Every recipe except ``none``
trains one classifier per stream beside the fused head (``stream_heads``), used by the loss only
and dropped from the trained model.

    none        CE(fused)                                         plain joint training
    warmstart   encoders started from each stream trained alone   MMAction2/pyskl's RGBPoseConv3D recipe
                (``single:<stream>``), then joint fine-tuning of
                CE(fused) + mean_i CE(stream_i)
    lpft        warmstart, the encoders frozen for the first      linear probing, then fine-tuning
                third of the epochs                               (Kumar et al. 2022)
    gblend      w_0 CE(fused) + sum_i w_i CE(stream_i), weights    Gradient Blending (Wang et al. 2020)
                from each head's generalisation/overfitting on
                the validation split, re-estimated during training
    ogm         CE(fused); each encoder's gradient scaled by      OGM-GE (Peng et al. 2022), S streams
                1 - tanh(alpha (rho_i - 1)) when its stream is
                more confident than the others (rho_i > 1), plus
                Gaussian noise of the gradient's std

A recipe is a small class registered in ``BALANCE`` (name -> class), so the loop, the bench key,
the CLI choices and the tests pick a new one up from the registry.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from ..errors import unknown_choice

BALANCE: dict[str, type[BalanceRecipe]] = {}


def register_balance(name: str):
    def deco(cls):
        cls.name = name
        BALANCE[name] = cls
        return cls

    return deco


def make_recipe(name: str, num_streams: int, seed: int = 0) -> BalanceRecipe:
    if name not in BALANCE:
        raise unknown_choice("balance recipe", name, BALANCE)
    return BALANCE[name](num_streams, seed=seed)


class BalanceRecipe:
    """Hooks the training loop calls; the base is plain joint training (``CE(fused)``).

    ``warm_start``: the loop trains each stream alone first and loads its encoder (see
    ``loop.train_model``). ``loss(out, y)``: ``out`` is the model's output with ``return_aux``
    (``(scores, {stream: scores})``) when ``stream_heads`` is set, else scores. ``after_backward``
    may rescale gradients; ``on_epoch_end`` may re-estimate the recipe's state from held-out
    losses. ``state()`` is what the run reports (plain floats).
    """

    name = "none"
    stream_heads = False
    probe = False  # True: the per-stream heads read detached features (they measure, not train)
    warm_start = False

    def __init__(self, num_streams: int, seed: int = 0) -> None:
        self.num_streams, self.seed = num_streams, seed

    def loss(self, out, y: torch.Tensor) -> torch.Tensor:
        return F.cross_entropy(out, y)

    def on_epoch_start(self, model, epoch: int, epochs: int) -> bool:
        """Called before each epoch (0-based) with the unwrapped model; True when it changed
        which parameters train (the loop then re-wraps the model for DDP)."""
        return False

    def after_backward(self, model, out, y: torch.Tensor, all_sum) -> None:
        pass

    def finish(self, model) -> None:
        """Called once after training with the unwrapped model (undo what training-only state set)."""

    def wants_losses(self, epoch: int) -> bool:
        """Whether ``on_epoch_end`` needs per-head train/validation losses after ``epoch`` (1-based)."""
        return False

    def on_epoch_end(self, epoch: int, losses: dict | None) -> None:
        pass

    def state(self) -> dict:
        return {}


@register_balance("none")
class JointTraining(BalanceRecipe):
    """Plain joint training: ``CE(fused)``."""


def _stream_ces(aux: dict, y: torch.Tensor) -> torch.Tensor:
    return torch.stack([F.cross_entropy(a, y) for a in aux.values()])


@register_balance("warmstart")
class WarmStart(BalanceRecipe):
    """Each encoder first trained alone, then joint fine-tuning with per-stream losses kept:
    ``CE(fused) + mean_i CE(stream_i)`` (the per-pathway losses of MMAction2's RGBPoseHead)."""

    stream_heads = True
    warm_start = True

    def loss(self, out, y):
        scores, aux = out
        return F.cross_entropy(scores, y) + _stream_ces(aux, y).mean()


@register_balance("lpft")
class ProbeThenFineTune(WarmStart):
    """``warmstart`` whose first third of the epochs trains the heads only (encoders frozen, as
    trained alone), then everything: linear probing then fine-tuning (Kumar et al., "Fine-Tuning
    can Distort Pretrained Features and Underperform Out-of-Distribution", ICLR 2022,
    https://arxiv.org/abs/2202.10054), so a fresh fusion head learns to read every stream before
    its gradients reach the encoders."""

    def on_epoch_start(self, model, epoch, epochs):
        frozen = epoch < math.ceil(epochs / 3)
        if frozen == model.frozen_encoders:
            return False
        model.encoders.requires_grad_(not frozen)
        model.frozen_encoders = frozen
        model.train()
        return True

    def finish(self, model):
        # stopped early while frozen: hand back a model that trains like any other
        model.encoders.requires_grad_(True)
        model.frozen_encoders = False


@register_balance("gblend")
class GradientBlending(BalanceRecipe):
    """``w_0 CE(fused) + sum_i w_i CE(stream_i)``, weights from Gradient Blending's
    overfitting-to-generalisation ratio, measured on the validation split (Wang et al. 2020, eq. 6):

        w_k ∝ ΔG_k / (ΔO_k^2 + eps),   ΔG_k = L_val,k(t0) - L_val,k(t1)  (0 if negative),
        ΔO_k = O_k(t1) - O_k(t0),       O_k = L_val,k - L_train,k

    for each head k (fused first, then the streams in order) between two checkpoints ``interval``
    epochs apart, normalised to sum to 1 (online G-Blend: re-estimated every ``interval`` epochs;
    uniform until the first estimate; kept when no head improved on validation).
    """

    stream_heads = True
    eps = 1e-3

    def __init__(self, num_streams: int, interval: int = 2, seed: int = 0) -> None:
        super().__init__(num_streams, seed)
        self.interval = interval
        self.weights = [1.0 / (num_streams + 1)] * (num_streams + 1)
        self.last: dict | None = None  # per-head losses at the previous checkpoint
        self.history: list[list[float]] = []

    def loss(self, out, y):
        scores, aux = out
        ces = torch.cat([F.cross_entropy(scores, y).reshape(1), _stream_ces(aux, y)])
        return (ces * ces.new_tensor(self.weights)).sum()

    def wants_losses(self, epoch: int) -> bool:
        return epoch == 1 or epoch % self.interval == 0

    @classmethod
    def blend_weights(cls, before: dict, after: dict) -> list[float] | None:
        """Weights from per-head ``{"train": [...], "val": [...]}`` losses at two checkpoints;
        None when no head's validation loss fell (nothing to learn from)."""
        raw = []
        for k in range(len(after["val"])):
            gain = max(before["val"][k] - after["val"][k], 0.0)
            over = (after["val"][k] - after["train"][k]) - (before["val"][k] - before["train"][k])
            raw.append(gain / (over * over + cls.eps))
        total = sum(raw)
        return [r / total for r in raw] if total > 0 else None

    def on_epoch_end(self, epoch, losses):
        if losses is None:
            return
        if self.last is not None:
            new = self.blend_weights(self.last, losses)
            if new is not None:
                self.weights = new
        self.last = losses
        self.history.append(list(self.weights))

    def state(self):
        return {"blend_weights": self.history}


@register_balance("ogm")
class GradientModulation(BalanceRecipe):
    """OGM-GE generalised to S streams and any fusion head.

    Per batch, stream i's confidence ``s_i = sum_n softmax(stream_i scores)[n, y_n]`` comes from
    its own classifier, trained on detached features (a probe: it measures, it does not train the
    encoder). With ``rho_i = s_i / mean_{j != i} s_j`` each encoder's gradient becomes
    ``k_i g + N(0, std(g)^2)`` with ``k_i = 1 - tanh(alpha (rho_i - 1))`` for ``rho_i > 1``, else 1.
    (Peng et al. use ``tanh(alpha rho)`` for two streams; ``rho - 1`` makes equally confident
    streams untouched.) The noise term (``ge``) is drawn from a generator seeded per step, so DDP
    ranks add the same noise.
    """

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
        return F.cross_entropy(scores, y) + _stream_ces(aux, y).sum()

    @classmethod
    def coefficients(cls, confidence: list[float], alpha: float) -> list[float]:
        """``k_i`` from per-stream confidences ``s_i`` (see class docstring)."""
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


__all__ = ["BALANCE", "BalanceRecipe", "make_recipe", "register_balance"]
