"""Balanced multi-stream training: recipes that keep one fast stream from starving the others.

With plain joint training the stream that lets the network fit the training set fastest takes
over and the others stop learning (Wang, Tran & Feiszli, "What Makes Training Multi-Modal
Classification Networks Hard?", CVPR 2020, https://arxiv.org/abs/1905.12681; Peng et al.,
"Balanced Multimodal Learning via On-the-fly Gradient Modulation", CVPR 2022,
https://arxiv.org/abs/2203.15332). A recipe changes how a fusion model is trained, never what it
computes at inference; baselines (``late``, ``single:*``) ignore it. Every recipe except ``none``
scores each stream on its own for the loss: with one classifier per stream beside the fused head
(``stream_heads``, used by the loss only and dropped from the trained model) or, ``masked``, with
the fused head itself and the other streams masked out. One recipe per file:

    none        CE(fused)                                         plain joint training (base.py)
    warmstart   encoders started from each stream trained alone   MMAction2/pyskl's RGBPoseConv3D
                (``single:<stream>``), then joint fine-tuning of  recipe (Duan et al. 2022)
                CE(fused) + mean_i CE(stream_i)
    masked      warmstart whose per-stream losses are the fused   a shared head trained on each
                head's, each stream alone present:                stream alone (MLA, Zhang et al.
                CE(fused) + mean_i CE(head(stream i alone));      2024; ModDrop's masking)
                deep heads also under lpft's schedule, the better
                on validation kept
    lpft        warmstart, the encoders frozen for the first      linear probing, then fine-tuning
                third of the epochs                               (Kumar et al. 2022)
    gblend      w_0 CE(fused) + sum_i w_i CE(stream_i), weights    Gradient Blending (Wang et al. 2020)
                from each head's generalisation/overfitting on
                the validation split, re-estimated during training
    ogm         CE(fused); each encoder's gradient scaled by      OGM-GE (Peng et al. 2022), S streams
                1 - tanh(alpha (rho_i - 1)) when its stream is
                more confident than the others (rho_i > 1), plus
                Gaussian noise of the gradient's std

A recipe is a small class registered in ``BALANCE`` (name -> class, by ``@register_balance``), so
the loop, the bench key, the CLI choices and the tests pick a new one up from the registry.
Importing this package registers them all.
"""

# imported in the order the recipes are listed above, which is BALANCE's order
from .base import BALANCE, BalanceRecipe, JointTraining, make_recipe, recipe_fusion_options, register_balance
from .warmstart import WarmStart  # isort: skip
from .masked import MaskedStreamLosses  # isort: skip
from .lpft import ProbeThenFineTune  # isort: skip
from .gblend import GradientBlending  # isort: skip
from .ogm import GradientModulation  # isort: skip

__all__ = [
    "BALANCE",
    "BalanceRecipe",
    "GradientBlending",
    "GradientModulation",
    "JointTraining",
    "MaskedStreamLosses",
    "ProbeThenFineTune",
    "WarmStart",
    "make_recipe",
    "recipe_fusion_options",
    "register_balance",
]
