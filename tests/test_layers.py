"""Layers run one way: library <- data, training <- bench <- cli (read from the source with ast).

    library   streamfuse, base, head, registry, errors, fusions/, layers/, importance/, _io ...
    data      streamfuse.data        never imports training, bench or cli
    training  streamfuse.training    never imports bench or cli
    bench     streamfuse.bench       never imports cli
    cli       streamfuse.cli

The library imports none of data, training, bench or cli, so ``import streamfuse`` needs torch only.
"""

import ast
from pathlib import Path

import pytest

import streamfuse

SRC = Path(streamfuse.__file__).parent
UPPER = ("data", "training", "bench", "cli")
FORBIDDEN = {"library": set(UPPER), "data": {"training", "bench", "cli"}, "training": {"bench", "cli"}, "bench": {"cli"}, "cli": set()}


def module_name(path: Path) -> str:
    parts = ["streamfuse", *path.relative_to(SRC).with_suffix("").parts]
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def layer(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 and parts[1] in UPPER else "library"


def imported_modules(path: Path) -> set[str]:
    """Every streamfuse module ``path`` imports, at the top or inside functions."""
    name = module_name(path)
    package = name if path.name == "__init__.py" else name.rsplit(".", 1)[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom):
            base = package.split(".")
            base = base[: len(base) - node.level + 1] if node.level else []
            target = ".".join(base + ([node.module] if node.module else []))
            found.add(target)
            found |= {f"{target}.{a.name}" for a in node.names}  # `from . import distributed`
    return {m for m in found if m == "streamfuse" or m.startswith("streamfuse.")}


SOURCES = sorted(SRC.rglob("*.py"))


@pytest.mark.parametrize("path", SOURCES, ids=lambda p: str(p.relative_to(SRC)))
def test_no_import_runs_upward(path):
    own = layer(module_name(path))
    upward = sorted(m for m in imported_modules(path) if layer(m) in FORBIDDEN[own])
    assert not upward, f"{module_name(path)} ({own}) imports {upward}"


def test_the_checker_sees_relative_and_nested_imports():
    """Relative imports are resolved, and imports inside functions count (cli imports bench lazily)."""
    assert "streamfuse.bench.report" in imported_modules(SRC / "bench" / "__init__.py")
    assert "streamfuse.bench" in imported_modules(SRC / "cli.py")
    assert "streamfuse.training.distributed" in imported_modules(SRC / "training" / "loop.py")
    assert layer("streamfuse.bench.presets") == "bench" and layer("streamfuse._io") == "library"


def test_the_type_check_covers_every_library_module():
    """CI's ``mypy`` checks the files listed in pyproject's [tool.mypy]: every library module must be
    there (the optional ``integrations``, which need third-party packages, are not library code)."""
    tomllib = pytest.importorskip("tomllib")  # Python >= 3.11
    root = SRC.parent.parent
    checked = [root / f for f in tomllib.loads((root / "pyproject.toml").read_text())["tool"]["mypy"]["files"]]
    library = [p for p in SOURCES if layer(module_name(p)) == "library" and "integrations" not in p.relative_to(SRC).parts]
    missed = [str(p.relative_to(SRC)) for p in library if not any(p == c or c in p.parents for c in checked)]
    assert len(library) > 30 and not missed, f"add to [tool.mypy] files in pyproject.toml: {missed}"
