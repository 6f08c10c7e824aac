"""The scan engine: packed time layout, fused BPTT autograd Function, reference loop, backends."""

from .backends import BACKENDS, get_backend, scan, set_backend, use_backend
from .layout import TimeLayout, time_layout
from .weights import LayerWeights


def engine_path() -> str | None:
    """The engine that ran the latest scan: "native", "fused", "reference", "torch" or None."""
    from . import backends

    return backends.last_path


__all__ = [
    "BACKENDS",
    "LayerWeights",
    "TimeLayout",
    "engine_path",
    "get_backend",
    "scan",
    "set_backend",
    "time_layout",
    "use_backend",
]
