"""Measuring: wall-clock medians, the sgemm peak, and bytes saved for backward.

Saved bytes are counted two ways, as unique storages (each storage once, its full size):
- ``hooks``: every tensor packed through ``torch.autograd.graph.saved_tensors_hooks``
  (``save_for_backward`` and the saved variables of torch's own backward nodes);
- ``ctx``: tensors a custom ``autograd.Function`` keeps as plain attributes of its ``ctx``
  (lists of per-step tensors, say). Those never pass through the hooks, so the hooks alone
  undercount such an implementation; ``ctx`` finds them by walking the graph before backward.
"""

from __future__ import annotations

import gc
import statistics
import time
from collections.abc import Callable

import torch
from torch import Tensor

__all__ = ["gemm_peak", "saved_bytes", "sync", "time_once", "time_runs"]


def sync(device: torch.device) -> None:
    """Wait for queued device work (CUDA); a no-op on CPU."""
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def time_once(fn: Callable[[], object], device: torch.device) -> float:
    """Milliseconds of one call of ``fn``, the garbage collector paused (a collection costs
    ~0.1 s with torch loaded; callers collect between measurements)."""
    gc_was_enabled = gc.isenabled()
    gc.disable()
    try:
        sync(device)
        start = time.perf_counter()
        fn()
        sync(device)
        return (time.perf_counter() - start) * 1e3
    finally:
        if gc_was_enabled:
            gc.enable()


def time_runs(
    fn: Callable[[], object], repeats: int, warmup: int, device: torch.device
) -> list[float]:
    """Milliseconds of ``repeats`` calls of ``fn`` after ``warmup`` untimed calls."""
    for _ in range(warmup):
        fn()
    return [time_once(fn, device) for _ in range(repeats)]


def gemm_peak(device: torch.device, sizes: tuple[int, ...], repeats: int = 5) -> dict[int, float]:
    """GFLOP/s of ``torch.mm`` of n x n float32 matrices, median of ``repeats``, per n."""
    out = {}
    for n in sizes:
        gen = torch.Generator().manual_seed(n)
        a = torch.randn(n, n, generator=gen).to(device)
        b = torch.randn(n, n, generator=gen).to(device)
        ms = statistics.median(time_runs(lambda a=a, b=b: torch.mm(a, b), repeats, 2, device))
        out[n] = 2 * n**3 / (ms * 1e-3) / 1e9
    return out


def _storage_key(t: Tensor) -> tuple[object, int]:
    """(identity, bytes) of the storage under ``t``; tensors without one count by their size."""
    try:
        storage = t.untyped_storage()
        return ("storage", t.device.type, storage.data_ptr()), storage.nbytes()
    except (RuntimeError, NotImplementedError):
        return ("tensor", id(t)), t.numel() * t.element_size()


def _ctx_tensors(root: object) -> list[Tensor]:
    """Tensors held as attributes of Python backward nodes (custom Function ctx) in the graph."""
    found, seen, stack = [], set(), [root]
    while stack:
        node = stack.pop()
        if node is None or id(node) in seen:
            continue
        seen.add(id(node))
        values = list(getattr(node, "__dict__", {}).values())
        while values:
            v = values.pop()
            if isinstance(v, Tensor):
                found.append(v)
            elif isinstance(v, list | tuple):
                values.extend(v)
            elif isinstance(v, dict):
                values.extend(v.values())
        stack.extend(fn for fn, _ in getattr(node, "next_functions", ()))
    return found


def saved_bytes(forward_loss: Callable[[], Tensor]) -> dict[str, int]:
    """Run ``forward_loss()`` and its backward once; bytes held for backward (see module doc).

    Returns ``{"hooks": ..., "ctx": ..., "total": ...}``; ``ctx`` counts only storages not
    already counted by ``hooks``.
    """
    hooked: dict[object, int] = {}

    def pack(t: Tensor) -> Tensor:
        key, nbytes = _storage_key(t)
        hooked[key] = nbytes
        return t

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        loss = forward_loss()
    extra: dict[object, int] = {}
    for t in _ctx_tensors(loss.grad_fn):
        key, nbytes = _storage_key(t)
        if key not in hooked:
            extra[key] = nbytes
    loss.backward()
    hooks, ctx = sum(hooked.values()), sum(extra.values())
    return {"hooks": hooks, "ctx": ctx, "total": hooks + ctx}
