"""Choosing the backend that runs a scan: the fused BPTT engine (default) or the reference loop.

``set_backend(name)`` sets it for the process, ``use_backend(name)`` for a ``with`` block.
Names: ``"auto"`` (the fastest path that accepts the call; today the fused engine),
``"fused"`` (the hand-derived BPTT engine) and ``"reference"`` (plain autograd loop).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from torch import Tensor

from ..cells.base import CellMath
from .fused import fused_scan
from .layout import TimeLayout
from .noise import NO_NOISE, StepNoise
from .reference import reference_scan
from .weights import LayerWeights

__all__ = ["BACKENDS", "get_backend", "scan", "set_backend", "use_backend"]

BACKENDS = ("auto", "fused", "reference")
_current = "auto"
last_path: str | None = None  # the engine that ran the latest scan ("fused", "reference")


def set_backend(name: str) -> None:
    """Select the scan backend for the whole process: one of ``BACKENDS``."""
    global _current
    if name not in BACKENDS:
        raise ValueError(f"unknown backend {name!r}; expected one of {', '.join(BACKENDS)}")
    _current = name


def get_backend() -> str:
    """The name of the selected scan backend."""
    return _current


@contextmanager
def use_backend(name: str) -> Iterator[None]:
    """Run the enclosed block with backend ``name``; the previous one is restored after."""
    previous = get_backend()
    set_backend(name)
    try:
        yield
    finally:
        set_backend(previous)


def scan(
    cell: CellMath,
    layout: TimeLayout,
    reverse: bool,
    x: Tensor,
    w: LayerWeights,
    h0: Tensor,
    extra0: tuple[Tensor, ...],
    params: tuple[Tensor, ...] = (),
    noise: StepNoise = NO_NOISE,
) -> tuple[Tensor, Tensor, tuple[Tensor, ...]]:
    """Run one layer-direction with the selected backend (see :func:`fused_scan`)."""
    global last_path
    last_path = "reference" if _current == "reference" else "fused"
    if _current == "reference":
        return reference_scan(cell, layout, reverse, x, w, h0, extra0, params, noise)
    return fused_scan(cell, layout, reverse, x, w, h0, extra0, params, noise)
