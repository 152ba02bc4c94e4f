"""The balance-recipe registry, the recipe base class (plain joint training, ``none``) and the
per-stream cross-entropy the other recipes share.

A recipe changes how a fusion model is trained, never what it computes at inference. The training
loop (``loop.train_model``) calls the hooks of ``BalanceRecipe`` at fixed points; a recipe
overrides the ones it needs and registers itself under a name with ``@register_balance``.

Shapes: ``scores`` (N, K) fused class scores; ``aux`` ``{stream: (N, K)}`` per-stream scores of
the recipe's stream heads; ``y`` (N,) labels.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from ...errors import unknown_choice

BALANCE: dict[str, type[BalanceRecipe]] = {}


def register_balance(name: str):
    """Class decorator: register a ``BalanceRecipe`` subclass under ``name`` in ``BALANCE``."""

    def deco(cls):
        cls.name = name
        BALANCE[name] = cls
        return cls

    return deco


def make_recipe(name: str, num_streams: int, seed: int = 0, method: str = "") -> BalanceRecipe:
    """The recipe registered as ``name`` for ``num_streams`` streams (``seed``: its randomness)
    training the fusion ``method`` (a registry name; a recipe may treat methods differently)."""
    if name not in BALANCE:
        raise unknown_choice("balance recipe", name, BALANCE)
    recipe = BALANCE[name](num_streams, seed=seed)
    recipe.method = method  # set here, not in __init__: recipes registered before it existed still construct
    return recipe


class BalanceRecipe:
    """Hooks the training loop calls; the base is plain joint training (``CE(fused)``).

    ``warm_start``: the loop trains each stream alone first and loads its encoder (see
    ``loop.train_model``). ``loss(out, y)``: ``out`` is the model's output with ``return_aux``
    (``(scores, {stream: scores})``) when ``stream_heads`` is set, else scores. ``after_backward``
    may rescale gradients; ``on_epoch_end`` may re-estimate the recipe's state from held-out
    losses. ``state()`` is what the run reports (plain floats).
    """

    name = "none"
    summary = "plain joint training"  # one line for the `--balance` help
    stream_heads = False
    probe = False  # True: the per-stream heads read detached features (they measure, not train)
    warm_start = False
    # Fusion option defaults this recipe trains each method with ({method: {option: value}}),
    # chosen on validation under the recipe; a --fusion-option value replaces them.
    fusion_defaults: dict[str, dict] = {}
    method = ""  # the fusion method trained (make_recipe sets it)
    # the schedule being trained: epochs the warm-started encoders stay frozen; set by the loop,
    # None: the first of ``schedules``
    frozen_epochs: int | None = None

    def __init__(self, num_streams: int, seed: int = 0) -> None:
        self.num_streams, self.seed = num_streams, seed

    @property
    def aux_mode(self):
        """What the model's ``return_aux`` is asked for: per-stream heads on detached features
        ("probe"), on live features (True), or the fused head with one stream present ("masked")."""
        return "probe" if self.probe else True

    def loss(self, out, y: torch.Tensor) -> torch.Tensor:
        return F.cross_entropy(out, y)

    def schedules(self, epochs: int) -> tuple[int, ...]:
        """The schedules to train ``self.method`` under, each the number of first epochs in which
        the warm-started encoders stay frozen (recipes with ``warm_start`` only). With more than
        one, the loop trains one model per schedule and keeps the best on validation data."""
        return (0,)

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

    def run_key_extras(self, epochs: int) -> dict:
        """Settings by which this recipe trains ``self.method`` unlike it once did, for the bench's
        run key (so a folder of runs made before does not resume as if they were these)."""
        return {}


def recipe_fusion_options(balance: str, method: str, options: dict) -> dict:
    """The fusion options ``method`` is built with under recipe ``balance``: the recipe's defaults
    for it, then ``options`` (the user's ``--fusion-option`` values) over them."""
    return {**BALANCE[balance].fusion_defaults.get(method, {}), **options}


@register_balance("none")
class JointTraining(BalanceRecipe):
    """Plain joint training: ``CE(fused)``."""


def stream_ces(aux: dict, y: torch.Tensor) -> torch.Tensor:
    """Cross-entropy of each stream head, ``(S,)``, in stream order (``aux``: ``{stream: (N, K)}``)."""
    return torch.stack([F.cross_entropy(a, y) for a in aux.values()])
