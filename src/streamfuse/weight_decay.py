"""Which parameters weight decay must not shrink, read from what each module declares.

timm's convention: a module's ``no_weight_decay()`` returns the names (relative to that module) of
parameters to exclude from weight decay. Every ``Fusion`` declares its stream-weight logits,
priors and stream embeddings there, because decaying them pulls the learned stream preference
toward uniform. ``no_weight_decay_ids`` collects those names over a whole model, at any depth.
"""

from __future__ import annotations

from torch import nn


def no_weight_decay_ids(model: nn.Module, one_dim: bool = True) -> set[int]:
    """``id()`` of every parameter of ``model`` that should get ``weight_decay=0``.

    That is every parameter a submodule names in its ``no_weight_decay()`` (any depth, the
    names taken relative to that submodule), plus, when ``one_dim`` (default), every parameter
    with at most one dimension (biases, norm scales, as timm and most recipes do). Use it as

        skip = no_weight_decay_ids(model)
        groups = [{"params": [p for p in model.parameters() if id(p) not in skip]},
                  {"params": [p for p in model.parameters() if id(p) in skip], "weight_decay": 0.0}]
    """
    params = dict(model.named_parameters(remove_duplicate=False))
    ids = {id(p) for p in params.values() if one_dim and p.dim() <= 1}
    for path, module in model.named_modules(remove_duplicate=False):
        declared = getattr(module, "no_weight_decay", None)
        if not callable(declared):
            continue
        for name in declared():
            full = f"{path}.{name}" if path else name
            if full in params:
                ids.add(id(params[full]))
    return ids
