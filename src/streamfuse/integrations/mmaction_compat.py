"""Import ``mmaction.models`` despite the mmaction2 1.2.0 wheel's missing ``drn`` package.

The published ``mmaction2==1.2.0`` wheel ships ``mmaction/models/localizers/__init__.py``, which
runs ``from .drn.drn import DRN``, without the ``localizers/drn/`` folder, so ``import
mmaction.models`` fails with ``No module named 'mmaction.models.localizers.drn'`` and no model
(RGBPoseConv3D included) can be built. ``import_mmaction_models`` imports ``mmaction.models``
and, only when exactly that error occurs, registers a stand-in ``drn`` package whose ``DRN``
refuses to be built, warns, and imports again. Any other import error is raised unchanged, and
nothing is patched when the import works.

DRN (Dense Regression Network for temporal grounding) is a localizer unrelated to action
recognition; only it becomes unusable.
"""

from __future__ import annotations

import importlib
import sys
import types
import warnings

MISSING = "mmaction.models.localizers.drn"


class _MissingDRN:
    """Stand-in for ``mmaction.models.localizers.drn.drn.DRN``, absent from the installed wheel."""

    def __init__(self, *args, **kwargs) -> None:
        raise ImportError(
            f"DRN is not available: {MISSING} is missing from the installed mmaction2 wheel "
            f"(streamfuse registered a stand-in so that the other models import); install "
            f"mmaction2 from source to use DRN"
        )


def _install_stand_in() -> None:
    pkg = types.ModuleType(MISSING)
    pkg.__path__ = []  # a package, so that ``.drn.drn`` resolves
    mod = types.ModuleType(MISSING + ".drn")
    mod.DRN = _MissingDRN
    pkg.drn = mod
    sys.modules[MISSING] = pkg
    sys.modules[MISSING + ".drn"] = mod


def import_mmaction_models() -> types.ModuleType:
    """Return ``mmaction.models``, working around the 1.2.0 wheel's missing ``drn`` package."""
    try:
        return importlib.import_module("mmaction.models")
    except ModuleNotFoundError as e:
        if e.name != MISSING:
            raise
    warnings.warn(
        f"streamfuse: `import mmaction.models` failed with \"No module named '{MISSING}'\": the "
        f"installed mmaction2 wheel lacks that folder (a packaging bug of mmaction2 1.2.0). "
        f"Registered a stand-in for it so that the other models import; only the DRN localizer "
        f"is unavailable.",
        stacklevel=2,
    )
    _install_stand_in()
    return importlib.import_module("mmaction.models")
