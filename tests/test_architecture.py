"""The shape of the package (docs/architecture.md): imports go downward only, layers see only
the engine's face, no source file grows past 400 lines."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src" / "rnnkit"

# package -> the rnnkit packages it may import from (besides itself and the root's leaf modules
# errors.py / atomic.py)
ALLOWED = {
    "cells": set(),
    "engine": {"cells"},
    "layers": {"cells", "engine"},
    "diagnostics": {"cells", "engine", "layers"},
    "data": set(),
    "train": {"engine"},  # its face only: BACKENDS, set_backend
    "tasks": {"layers", "data", "train", "diagnostics"},
    "commands": {
        "tasks",
        "train",
        "diagnostics",
        "cli",
        "layers",
        "engine",
        "export",
        "export_translate",
    },
}
LEAVES = {"errors", "atomic"}


def _imports(path: Path) -> list[list[str]]:
    """The rnnkit modules ``path`` imports from, as package paths below rnnkit."""
    parts = list(path.relative_to(SRC).with_suffix("").parts)
    here = parts[:-1]  # the package the module is in
    found = []
    for node in ast.walk(ast.parse(path.read_text())):
        if not isinstance(node, ast.ImportFrom):
            continue
        if node.level:
            base = here[: len(here) - (node.level - 1)]
            found.append(base + (node.module.split(".") if node.module else []))
        elif node.module and node.module.split(".")[0] == "rnnkit":
            found.append(node.module.split(".")[1:])
    return found


MODULES = sorted(p for p in SRC.rglob("*.py") if len(p.relative_to(SRC).parts) > 1)


@pytest.mark.parametrize("path", MODULES, ids=lambda p: str(p.relative_to(SRC)))
def test_imports_go_downward_only(path):
    package = path.relative_to(SRC).parts[0]
    for target in _imports(path):
        if not target or target[0] in (package, *LEAVES):
            continue
        assert target[0] in ALLOWED[package], f"{package} imports rnnkit.{'.'.join(target)}"
        if package in ("layers", "train", "commands") and target[0] == "engine":
            assert target == ["engine"], f"{package} reaches into rnnkit.{'.'.join(target)}"


@pytest.mark.parametrize("path", sorted(SRC.rglob("*.py")), ids=lambda p: p.name)
def test_no_source_file_over_400_lines(path):
    assert len(path.read_text().splitlines()) <= 400
