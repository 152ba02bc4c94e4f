"""The fusion registry: a plain dict from method name to class.

Adding a method is writing one ``Fusion`` subclass and decorating it with ``@register_fusion``;
``create_fusion``, ``list_fusions``, ``MultiStreamHead`` and the test-suite pick it up from here.
"""

from __future__ import annotations

import inspect
from typing import TYPE_CHECKING

from .errors import StreamFuseError, unknown_choice, unknown_option

if TYPE_CHECKING:
    from .base import Fusion

FUSIONS: dict[str, type[Fusion]] = {}


def register_fusion(name: str):
    """Class decorator: register a ``Fusion`` subclass under ``name`` (sets ``cls.name``)."""

    def decorate(cls):
        if name in FUSIONS:
            raise StreamFuseError(f"fusion name {name!r} is already registered by {FUSIONS[name].__name__}")
        cls.name = name
        FUSIONS[name] = cls
        return cls

    return decorate


def list_fusions() -> list[str]:
    """Names of every registered fusion method, sorted."""
    return sorted(FUSIONS)


def fusion_options(name: str) -> list[str]:
    """Keyword options accepted by method ``name`` (its constructor and the shared base)."""
    return list(fusion_option_defaults(name))


def fusion_option_defaults(name: str) -> dict:
    """``{option: default}`` for method ``name``, in constructor order (required ones map to ``inspect.Parameter.empty``)."""
    cls = get_fusion_class(name)
    defaults: dict = {}
    for klass in cls.__mro__:
        if "__init__" in vars(klass):
            for p in inspect.signature(klass.__init__).parameters.values():
                if p.kind is p.KEYWORD_ONLY or (p.kind is p.POSITIONAL_OR_KEYWORD and p.name != "self"):
                    if p.name not in ("in_dims", "dim") and p.name not in defaults:
                        defaults[p.name] = p.default
    return defaults


def get_fusion_class(name: str) -> type[Fusion]:
    if not isinstance(name, str) or name not in FUSIONS:
        raise unknown_choice("fusion method", name, FUSIONS)
    return FUSIONS[name]


def create_fusion(name: str, in_dims, dim: int | None = None, **options) -> Fusion:
    """Build fusion ``name`` for streams of widths ``in_dims`` (a list, or a name->width dict).

    ``dim`` is the fused width D (default: the largest ``C_i``). Unknown names and unknown
    options raise ``StreamFuseError`` listing the valid ones.
    """
    cls = get_fusion_class(name)
    valid = fusion_options(name)
    for key in options:
        if key not in valid:
            raise unknown_option(f"fusion {name!r}", key, valid)
    return cls(in_dims, dim, **options)
