"""``masked``: warm start, then joint fine-tuning in which each stream's loss is the fused head's
own loss with every other stream masked out:

    loss = CE(head(all streams)) + mean_i CE(head(stream i alone))

Why: with ``warmstart`` the per-stream losses train separate classifiers, so each encoder learns,
but the fused head's path from a slower stream (its projection, its share of the classifier) is
trained only through the fused loss, scaled by that stream's small weight, and stays weak: the
fused model reads the fastest stream (BENCHMARKS.md, "Per-stream losses through the fused head").
Scoring each stream alone through the shared head trains every path to classify by itself, so the
fused sum adds evidence from every stream. The head is shared across streams as in MLA (Zhang,
Yoon, Bansal & Yao, "Multimodal Representation Learning by Alternating Unimodal Adaptation",
CVPR 2024, https://arxiv.org/abs/2311.10707), which trains it on one modality at a time; here
every stream's pass and the fused pass share each step. Masking whole streams during training is
ModDrop's (Neverova et al., "ModDrop: adaptive multi-modal gesture recognition", TPAMI 2016,
https://arxiv.org/abs/1501.00102), made deterministic: every stream alone, every step.

Under this recipe ``scalar``, ``convex``, ``channel`` and ``attention`` are built with
``logit_scale=1`` unless given another value (``fusion_defaults``, below). ``transformer``, a
deep head, is trained twice from the same warm start, once as above and once with the encoders
frozen for the first third of the epochs (``lpft``'s probe phase), and the model with the better
validation accuracy is kept (``probe_first``, below; twice the cost of its fine-tuning).

The extra cost is S more passes of the head per step (the encoders run once); the trained model
computes exactly what ``build_model(spec)`` computes (no per-stream heads are built). Streams left
out (see ``loop.streams_to_leave_out``) are not scored.
"""

from __future__ import annotations

import math

from .base import register_balance
from .warmstart import WarmStart


@register_balance("masked")
class MaskedStreamLosses(WarmStart):
    """``warmstart`` whose per-stream losses go through the fused head, one stream present at a
    time: ``CE(fused) + mean_i CE(head(stream i alone))``."""

    summary = ("warmstart whose per-stream losses go through the fused head, the other streams masked; deep heads "
               "(transformer) also try the encoders frozen for the first third and keep the better on validation")
    aux_mode = "masked"
    # logit_scale=1 for the methods whose stream weights are one learned logit (or a row of them)
    # per stream: k=10 makes a weight move far within the training budget, which plain joint
    # training needs to leave a noise stream; here leaving out does that before the fused model
    # trains, and validation accuracy was higher with k=1 for all four, at the quick and at 4x the
    # clips (5 seeds each; BENCHMARKS.md "logit_scale under masked"). adaptive and cross_attention
    # keep 10: their validation accuracy fell with k=1 at the quick size.
    fusion_defaults = {m: {"logit_scale": 1.0} for m in ("scalar", "convex", "channel", "attention")}
    # Deep heads, for which fine-tuning the warm-started encoders from the first step can lose to
    # a probe phase first (lpft's): transformer with pose as noise at the 30-epoch size ended 8
    # points below the RGB stream alone, and 0.1 below it with its encoders frozen for the first
    # third, while at the quick and 4x sizes, clean, the plain schedule was ahead on validation
    # and test (5 seeds each; BENCHMARKS.md, "Deep heads under masked"). So both are trained and
    # the better on validation is kept.
    probe_first = frozenset({"transformer"})

    def schedules(self, epochs):
        return (0, math.ceil(epochs / 3)) if self.method in self.probe_first else (0,)

    def run_key_extras(self, epochs):
        schedules = self.schedules(epochs)
        return {"schedules": list(schedules)} if len(schedules) > 1 else {}
