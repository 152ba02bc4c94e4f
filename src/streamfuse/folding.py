"""``fold_weights``: a model for inference with every fusion's constant weights folded in.

After training, ``scalar``, ``convex`` and ``channel`` weights are constants, yet each forward
recomputes them from the parameters. ``fold_weights(model)`` returns a copy of ``model`` in which
every fusion that has such weights is replaced by its ``fold()`` (``fusions/folded.py``): the same
outputs and reported weights, fewer kernels per call. Fusions whose weights depend on the input
(``attention``, ``adaptive``, ...) and everything else are copied unchanged. Like timm's
``reparameterize_model``: fold once, after training, then run or export the folded copy.
"""

from __future__ import annotations

import copy

from torch import nn

from .base import Fusion
from .errors import StreamFuseError


def fold_weights(model: nn.Module, inplace: bool = False) -> nn.Module:
    """Return ``model`` with each fusion that can be folded replaced by its folded form.

    Args:
        model: any ``nn.Module`` (a ``MultiStreamHead``, a whole network, or a ``Fusion``).
        inplace: replace the fusions inside ``model`` itself instead of in a deep copy (saves the
            copy's memory for a large network). ``model``'s stream weights then become constants;
            its projections are kept (not copied), so an optimizer built before still trains them.

    Returns the folded copy (``model`` itself when ``inplace``); a ``Fusion`` passed as ``model``
    comes back as its folded form, or as a copy when it has nothing to fold. The stream weights of
    the result are buffers: they do not train and are not in ``parameters()``.
    """
    if not isinstance(model, nn.Module):
        raise StreamFuseError(f"fold_weights: expected an nn.Module (a model, head or fusion), got {type(model).__name__}")
    if not isinstance(inplace, bool):
        raise StreamFuseError(f"fold_weights: inplace must be True or False, got {inplace!r}")
    if isinstance(model, Fusion):
        folded = model.fold(copy_projection=not inplace)
        if folded is not None:
            return folded
        return model if inplace else copy.deepcopy(model)
    out = model if inplace else copy.deepcopy(model)
    # every path to a fusion (one registered twice stays one module, folded once)
    targets = [(name, m) for name, m in out.named_modules(remove_duplicate=False) if name and isinstance(m, Fusion)]
    folded_by_id: dict[int, Fusion | None] = {}
    for name, fusion in targets:
        if id(fusion) not in folded_by_id:
            folded_by_id[id(fusion)] = fusion.fold(copy_projection=False)  # (the model is a copy, or folded in place)
        folded = folded_by_id[id(fusion)]
        if folded is not None:
            out.set_submodule(name, folded)
    return out
