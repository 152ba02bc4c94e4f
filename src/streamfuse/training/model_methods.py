"""Model-level methods: methods built as a whole network rather than from the fusion registry.

A fusion method (``streamfuse.registry.FUSIONS``) is a module inside ``MultiStreamNet``'s head;
a model-level method, such as ``late_learned`` (learned score-level fusion, ``LateFusionNet``),
is a network of its own. The bench lists both side by side (``--fusions``, ``all``), so every
place that treats a method name (the method list, the option checks, the model builder, the
training loop) asks the method's ``ModelMethod`` entry here instead of testing its name.

    MODEL_LEVEL[name] = ModelMethod(build=..., ...)    or    @register_model_method(name, ...)

Registering an entry is all a new model-level method needs.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from torch import nn

from ..registry import fusion_option_defaults, get_fusion_class, list_fusions


@dataclass(frozen=True)
class ModelMethod:
    """What the bench, the CLI checks, ``build_model`` and the training loop need to know.

    ``build(spec, common)``: the network for model spec ``spec`` (see ``models.py``); ``common``
    holds the encoder settings every reference network takes (``kinds``, ``in_channels``,
    ``num_classes``, ``width``, ``dropout``, ``pool``).
    ``kind``: how messages name it (``"'late_learned' is a score-level model ..."``).
    ``options``: the fusion options it takes, ``{name: default}`` (the default's type is the type
    a value must have); ``build`` reads them from ``spec["fusion_options"]``. Taking
    ``stream_dropout`` gives it a ``<name>+sd`` variant in a bench with ``--stream-dropout``.
    ``aux_loss``: whether it takes ``aux_loss`` > 0 (per-stream auxiliary losses).
    ``own_stream_scores``: its ``forward(..., return_aux=True)`` returns per-stream scores of
    its own, which the balance recipes use; False: recipes that need per-stream heads build it
    with ``spec["stream_heads"] = True`` and ``build`` must add them.
    ``min_streams`` / ``max_streams``: how many streams it accepts (None: any number).
    """

    build: Callable[[dict, dict], nn.Module]
    kind: str = "model-level method"
    options: Mapping[str, object] = field(default_factory=dict)
    aux_loss: bool = False
    own_stream_scores: bool = True
    min_streams: int = 1
    max_streams: int | None = None

    def fits(self, num_streams: int) -> bool:
        """Whether it accepts ``num_streams`` streams."""
        return num_streams >= self.min_streams and (self.max_streams is None or num_streams <= self.max_streams)


MODEL_LEVEL: dict[str, ModelMethod] = {}


def register_model_method(name: str, **declared) -> Callable:
    """Decorator: register ``build(spec, common) -> nn.Module`` as model-level method ``name``,
    with the ``ModelMethod`` fields in ``declared``."""

    def deco(build):
        MODEL_LEVEL[name] = ModelMethod(build=build, **declared)
        return build

    return deco


def model_method(name: str) -> ModelMethod | None:
    """The entry of model-level method ``name``; None for a fusion method or a baseline."""
    return MODEL_LEVEL.get(name)


def method_names() -> list[str]:
    """Every method ``--fusions`` accepts: the fusions (sorted), then the model-level methods."""
    return [*list_fusions(), *MODEL_LEVEL]


def method_options(name: str) -> dict:
    """``{option: default}`` that method ``name`` takes, fusion or model-level."""
    entry = MODEL_LEVEL.get(name)
    return dict(entry.options) if entry is not None else fusion_option_defaults(name)


def stream_range(name: str) -> tuple[int, int | None]:
    """``(min, max)`` streams that method ``name`` accepts (max None: any number)."""
    owner = MODEL_LEVEL.get(name) or get_fusion_class(name)
    return owner.min_streams, owner.max_streams
