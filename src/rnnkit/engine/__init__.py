"""The scan engine, behind one face: a layer hands it a whole stack with ``run_stack``.

The engine checks the call once, then picks the path (stack.py: the plan of backends, tried in
order): torch's own kernel, the native no-grad stack, or one scan per layer-direction on the
selected backend (native C++ sweeps, fused BPTT in Python, reference autograd loop; minimal
cells: parallel scan or loop). ``set_backend`` / ``use_backend`` select the backend,
``engine_path()`` says which engine ran the latest call; ``autotune`` holds the plan measured
on this machine (torch's kernel or ours, per shape bucket).
"""

from . import (
    autotune,
    paths,  # noqa: F401  (fills in the plan)
)
from .backends import BACKENDS, get_backend, scan, set_backend, use_backend
from .checks import check_dtype_device, check_shape, fmt_shape, unpack_hx
from .layout import TimeLayout, time_layout
from .native import build as native_build  # the C++ loops' build (rnnkit build)
from .native import heap as native_heap  # glibc's heap thresholds (rnnkit plan)
from .native.runtime import runtime_library  # AOTInductor packages without Python
from .noise import NO_STACK_NOISE, StackNoise
from .parallel_scan import DEFAULT_CHUNK, SCAN_MODES
from .stack import StackSpec, StackWeightsSource, run_stack
from .weights import LayerWeights


def engine_path() -> str | None:
    """The engine that ran the latest call: "native", "fused", "reference", "torch",
    "min_scan", "min_loop", or None before any."""
    from . import backends

    return backends.last_path


__all__ = [
    "BACKENDS",
    "DEFAULT_CHUNK",
    "NO_STACK_NOISE",
    "SCAN_MODES",
    "LayerWeights",
    "StackNoise",
    "StackSpec",
    "StackWeightsSource",
    "TimeLayout",
    "autotune",
    "check_dtype_device",
    "check_shape",
    "engine_path",
    "fmt_shape",
    "get_backend",
    "native_build",
    "native_heap",
    "run_stack",
    "runtime_library",
    "scan",
    "set_backend",
    "time_layout",
    "unpack_hx",
    "use_backend",
]
