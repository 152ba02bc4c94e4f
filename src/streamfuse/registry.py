"""The fusion registry: a plain dict from method name to class.

Adding a method is writing one ``Fusion`` subclass and decorating it with ``@register_fusion``;
``create_fusion``, ``list_fusions``, ``MultiStreamHead`` and the test-suite pick it up from here.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

from .errors import StreamFuseError, unknown_choice, unknown_option

if TYPE_CHECKING:
    from .base import Fusion, InDims
    from .options import Option

FUSIONS: dict[str, type[Fusion]] = {}

F = TypeVar("F", bound="type[Fusion]")


def register_fusion(name: str) -> Callable[[F], F]:
    """Class decorator: register a ``Fusion`` subclass under ``name`` (sets ``cls.name``)."""

    def decorate(cls: F) -> F:
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
    """Keyword options method ``name`` declares (its ``options``, then the shared base options)."""
    return list(get_fusion_class(name).option_specs())


def fusion_option_defaults(name: str) -> dict[str, Any]:
    """``{option: default}`` for method ``name``, as declared (see ``fusion_option_specs``)."""
    return {k: spec.default for k, spec in get_fusion_class(name).option_specs().items()}


def fusion_option_specs(name: str) -> dict[str, Option]:
    """``{option: Option}`` for method ``name``: default, kind and valid range of each option."""
    return dict(get_fusion_class(name).option_specs())


def check_fusion_option(name: str, key: str, value: Any) -> Any:
    """Validate one option value for method ``name`` without building it (e.g. a CLI argument
    before any data is loaded): return the value, or raise ``StreamFuseError`` for an unknown
    option or a value outside the declared range."""
    specs = get_fusion_class(name).option_specs()
    if key not in specs:
        raise unknown_option(f"fusion {name!r}", key, specs)
    return specs[key].check(key, value, name)


def get_fusion_class(name: str) -> type[Fusion]:
    if not isinstance(name, str) or name not in FUSIONS:
        raise unknown_choice("fusion method", name, FUSIONS)
    return FUSIONS[name]


def create_fusion(name: str, in_dims: InDims, dim: int | None = None, **options: Any) -> Fusion:
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
