"""The scan engine: packed time layout, fused BPTT autograd Function, reference loop, backends."""

from .backends import BACKENDS, get_backend, scan, set_backend, use_backend
from .layout import TimeLayout, time_layout
from .weights import LayerWeights

__all__ = [
    "BACKENDS",
    "LayerWeights",
    "TimeLayout",
    "get_backend",
    "scan",
    "set_backend",
    "time_layout",
    "use_backend",
]
