"""Choosing the backend that runs a scan: native C++ loop, fused BPTT engine, or reference loop.

``set_backend(name)`` sets it for the process, ``use_backend(name)`` for a ``with`` block.
Names: ``"auto"`` (the native loop where it runs the call, else the fused engine; the
environment variable RNNKIT_NATIVE=0 keeps it on the fused engine; the native loop runs the
built-in cells, ``native.native_cells()``, with their parameters, and declines recurrent
dropout and zoneout),
``"native"`` (the fused engine with its time loops in C++; raises NotImplementedError where it
declines), ``"fused"`` (the hand-derived BPTT engine, Python loop) and ``"reference"`` (plain
autograd loop). ``last_path`` names the engine that ran the latest scan, for tests.

With autograd off, a layer's forward on a plain padded batch goes through ``infer_stack``
instead: the whole stack in one native call, nothing saved (the streaming fast path); it
applies where the selected backend would run the call natively.

The one place "auto" hands a call to torch: a stack of a cell torch has a kernel for (LSTM,
GRU, RNN) on CPU, where that kernel measured faster on this machine (autotune.py; with
measuring off, the float32 LSTM at the shapes of ``hands_lstm_to_torch``); ``last_path`` says
"torch".
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager

import torch
from torch import Tensor

from ..cells import GRU, LSTM, RNN_RELU, RNN_TANH
from ..cells.base import CellMath
from ..cells.minimal import MinCell
from .fused import fused_scan
from .layout import TimeLayout
from .native import native_infer, native_scan
from .noise import NO_NOISE, StepNoise
from .parallel_scan import auto_mode, min_scan
from .reference import reference_scan
from .weights import LayerWeights

__all__ = [
    "BACKENDS",
    "TORCH_KERNELS",
    "get_backend",
    "hands_lstm_to_torch",
    "infer_stack",
    "min_layer",
    "native_enabled",
    "scan",
    "set_backend",
    "torch_stack",
    "use_backend",
]

BACKENDS = ("auto", "native", "fused", "reference")
_current = "auto"
# the engine of the latest scan: "native", "fused", "reference", "torch" (hands_lstm_to_torch),
# or for the minimal cells "min_scan" (the parallel scan) / "min_loop" (one step at a time)
last_path: str | None = None


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


def _auto_tries_native() -> bool:
    """Whether "auto" may take the native loop: unless RNNKIT_NATIVE=0 (no build at all then).

    The C++ sweeps pass the native tests and a random-layer stress run under AddressSanitizer
    (``RNNKIT_NATIVE_SANITIZE=address``, see native/build.py)."""
    return os.environ.get("RNNKIT_NATIVE", "1") != "0"


def native_enabled() -> bool:
    """Whether the selected backend runs a call natively where the native path can."""
    return _current == "native" or (_current == "auto" and _auto_tries_native())


def infer_stack(
    cell: CellMath,
    x: Tensor,
    T: int,
    layers: list[tuple[LayerWeights, tuple[Tensor | None, ...]]],
    num_directions: int,
    h0: Tensor | None,
    c0: Tensor | None,
    both_directions: bool = False,
) -> tuple[Tensor, Tensor, Tensor | None] | None:
    """The no-grad forward of a whole stack in one native call (see
    :func:`rnnkit.engine.native.native_infer`), or None where the selected backend or the native
    path declines: the caller then scans layer by layer."""
    global last_path
    if _current not in ("auto", "native") or not _auto_tries_native():
        return None  # RNNKIT_NATIVE=0: the general path (which says so for "native")
    out = native_infer(cell, x, T, layers, num_directions, h0, c0, both_directions)
    if out is not None:
        last_path = "native"
    return out


TORCH_LSTM_INFER_MIN_BATCH = 8
TORCH_LSTM_INFER_MIN_HIDDEN = 512
TORCH_LSTM_TRAIN_MIN_BH = 65536


def hands_lstm_to_torch(cell: CellMath, batch: int, hidden: int, x: Tensor, grad: bool) -> bool:
    """The fixed default (``RNNKIT_AUTOTUNE=0``; with measuring on, autotune.py decides):
    whether "auto" runs a float32 LSTM stack with torch's own kernel (oneDNN: the same math,
    what torch.nn.LSTM calls) instead of ours. Measured on an AMD EPYC (Zen 4, 2 threads, median
    of 9 alternating runs): torch's kernel at least as fast with autograd off from batch 8 at
    H >= 512 (ours 0.91-0.97x there; 1.05-1.13x at H = 128-256), in training from B·H = 65536
    (B = 64, H = 1024: ours 0.97x; B = 128: 0.93-1.02x; below, ours 1.1-1.3x). Smaller shapes,
    float64, lengths / packed input and the "native" backend stay on our loops; torch's kernel
    saves 2.5x the activations of ours."""
    if _current != "auto" or cell is not LSTM or not _auto_tries_native():
        return False
    if x.dtype != torch.float32 or x.device.type != "cpu":
        return False
    if grad:
        return batch * hidden >= TORCH_LSTM_TRAIN_MIN_BH
    return batch >= TORCH_LSTM_INFER_MIN_BATCH and hidden >= TORCH_LSTM_INFER_MIN_HIDDEN


# the cells torch has a kernel of its own for (what torch.nn.LSTM / GRU / RNN call)
TORCH_KERNELS = {LSTM: "lstm", GRU: "gru", RNN_TANH: "rnn_tanh", RNN_RELU: "rnn_relu"}


def torch_stack(cell: CellMath, x: Tensor, hx: object, weights: list[Tensor], **options):
    """torch's kernel of ``cell`` (``TORCH_KERNELS``) on a padded (T, B, I) input
    (``batch_first`` in ``options``), as torch.nn calls it: returns (output, h_n, c_n) for the
    LSTM, (output, h_n) for the others. ``hx``: (h_0, c_0) for the LSTM, else h_0. ``options``:
    has_biases, num_layers, dropout, train, bidirectional, batch_first."""
    global last_path
    last_path = "torch"
    o = options
    kernel = getattr(torch._VF, TORCH_KERNELS[cell])
    return kernel(
        x, hx, weights, o["has_biases"], o["num_layers"], o["dropout"], o["train"],
        o["bidirectional"], o["batch_first"],
    )  # fmt: skip


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
    if _current == "reference":
        last_path = "reference"
        return reference_scan(cell, layout, reverse, x, w, h0, extra0, params, noise)
    if native_enabled():
        try:
            if noise.rec_mask is not None or noise.zone_h is not None or noise.zone_extra:
                raise NotImplementedError("the native backend runs no recurrent dropout or zoneout")
            out = native_scan(cell, layout, reverse, x, w, h0, extra0, params)
            last_path = "native"
            return out
        except NotImplementedError:
            if _current == "native":
                raise
    last_path = "fused"
    return fused_scan(cell, layout, reverse, x, w, h0, extra0, params, noise)


def min_layer(
    cell: MinCell,
    layout: TimeLayout,
    reverse: bool,
    gx: Tensor,
    h0: Tensor,
    mode: str,
    chunk: int | None,
) -> tuple[Tensor, Tensor]:
    """One layer-direction of a minimal cell (MinGRU / MinLSTM) from its input projection gx.

    ``mode`` "scan" / "sequential" is the layer's own choice; "auto" follows the backend:
    "reference" runs the step loop, "native" declines (``NotImplementedError``: there is no C++
    loop for these cells), "auto" and "fused" take the parallel scan on CUDA for T > 1, else
    the loop (on CPU the loop measured faster: benchmarks/min_scan.py).
    """
    global last_path
    if mode == "auto" and _current == "native":
        raise NotImplementedError(
            f"the native backend has no loop for {cell.name}; use 'auto' (or mode='scan')"
        )
    if mode == "auto":
        mode = "sequential" if _current == "reference" else auto_mode(layout, gx)
    out = min_scan(cell, layout, reverse, gx, h0, mode, chunk)
    last_path = "min_loop" if mode == "sequential" else "min_scan"
    return out
