"""Linear recurrences h_t = a_t ⊙ h_{t-1} + b_t over packed sequences: parallel and sequential.

``parallel_scan`` computes many steps at once in log space (Heinsen 2023), no loop over t
(all T with ``chunk=None``; by default chunks of 64 steps, see below):

    A_t = Π_{k≤t} a_k                       log A_t = a*_t = cumsum(log a)
    h_t = A_t ⊙ h_0 + Σ_{k≤t} (A_t / A_k) ⊙ b_k
        = exp(a*_t) ⊙ h_0 + exp(a*_t + logcumsumexp_k(log b_k - a*_k))

Why this form is exact and stable:
- a_t ∈ (0, 1], so a*_t ≤ 0 falls with t and exp(a*_t) never overflows; the sum Σ b_k / A_k,
  whose terms grow like exp(-a*_k), is only ever held as its logarithm (logcumsumexp shifts by
  the running max), and is brought back to scale by adding a*_t before the exp.
- b_t > 0 (g > 0 in both minimal cells), so log b is defined; it comes from the gate
  pre-activations in closed form (``log_coefficients``), never as log of an underflowed gate.
- h_0 may have any sign or be zero: it is not taken into log space at all but enters through
  the bounded factor exp(a*_t), so no positive / negative split is needed.
Autograd differentiates it all (cumsum, logcumsumexp and exp have stable backward formulas).

Chunks: with ``chunk`` = C the T steps run as T / C scans of C steps each, all B·H columns
and all C steps of a chunk at once, the state carried from chunk to chunk (a loop over chunks,
not over t). Exact (the recurrence restarts from any h_0), and faster on CPU: the working
tensors stay small (cache, no page-faulting of huge fresh buffers), and |a*| stays below
C·|log a|, which bounds the rounding error above. ``chunk=None`` scans all T at once.

Lengths and reversal: packed rows are scattered into a (T, B) grid where each sequence runs
from position 0 to its own length - 1 (reversed per length for the reverse direction), and
padding positions get the neutral pair a = 1, b = 0 (log a = 0, log b = the dtype's lowest
finite number, whose exp is exactly 0; not -inf: a chunk that starts in a sequence's padding
would make a whole logcumsumexp column -inf, and its backward then computes inf - inf = NaN).
The state stays constant past the end, so h_n is the last grid row. Rows are gathered back.

``sequential_scan`` is the reference twin: the cell's step function in a plain autograd loop
over the packed steps (also the streaming path, T = 1 with a carried state).
"""

from __future__ import annotations

from functools import lru_cache

import torch
from torch import Tensor

from ..cells.minimal import MinCell
from .layout import TimeLayout

__all__ = [
    "DEFAULT_CHUNK",
    "SCAN_MODES",
    "auto_mode",
    "chunked_log_scan",
    "log_linear_scan",
    "min_scan",
    "parallel_scan",
    "sequential_scan",
]

SCAN_MODES = ("auto", "scan", "sequential")
DEFAULT_CHUNK = 64  # steps per scan; fastest of 32..512 and None at T = 4096 on our CPUs


def log_linear_scan(
    log_a: Tensor, log_b: Tensor, h0: Tensor, accumulate: torch.dtype | None = torch.float64
) -> Tensor:
    """h (T, B, H) of h_t = a_t ⊙ h_{t-1} + b_t along dim 0, from log a ≤ 0, log b, any h0 (B, H).

    ``log_b`` may be -inf (b = 0) except at t = 0 of each column, which keeps every
    logcumsumexp finite (elsewhere use the lowest finite number for b = 0). Inputs of lower
    precision than ``accumulate`` are scanned in it (None: in their own dtype); the result
    has the inputs' dtype.

    Why float64 by default: the log-space form adds two numbers of size |a*_t| ~ t·|log a|
    (a*_t + log_sum) to get an O(1) one, so its rounding error grows with T: run in float32 it
    is about 2e-5 relative at T = 512 and 2e-4 at T = 4096 (|log a| ≈ 0.7). In float64 the
    float32 result is within ~1e-7; the cost is the scan's few elementwise passes in float64
    (the GEMMs stay in the input dtype). ``benchmarks/min_scan.py`` measures both.
    """
    out_dtype = log_a.dtype
    if accumulate is not None and torch.finfo(out_dtype).bits < torch.finfo(accumulate).bits:
        log_a, log_b, h0 = log_a.to(accumulate), log_b.to(accumulate), h0.to(accumulate)
    a_star = torch.cumsum(log_a, dim=0)  # (T, B, H) log A_t
    log_sum = torch.logcumsumexp(log_b - a_star, dim=0)  # (T, B, H) log Σ_{k≤t} b_k / A_k
    return (torch.exp(a_star) * h0 + torch.exp(a_star + log_sum)).to(out_dtype)


def chunked_log_scan(log_a: Tensor, log_b: Tensor, h0: Tensor, chunk: int | None) -> Tensor:
    """:func:`log_linear_scan` over chunks of ``chunk`` steps, the state carried between them."""
    if chunk is None or log_a.shape[0] <= chunk:
        return log_linear_scan(log_a, log_b, h0)
    outs, h = [], h0
    for a_c, b_c in zip(log_a.split(chunk), log_b.split(chunk)):
        outs.append(log_linear_scan(a_c, b_c, h))  # (C, B, H)
        h = outs[-1][-1]
    return torch.cat(outs)


@lru_cache(maxsize=256)
def _grid_positions(batch_sizes: tuple[int, ...], reverse: bool) -> Tensor:
    """For each packed row, its flat position s·B + j in the (T, B) scan grid (CPU, int64).

    Row j of step t sits at s = t going forward, or s = L_j - 1 - t for the reverse direction
    (L_j the length of sequence j), so every sequence's scan starts at s = 0.
    """
    bs = torch.tensor(batch_sizes, dtype=torch.int64)
    T, B = len(batch_sizes), batch_sizes[0]
    t_of_row = torch.repeat_interleave(torch.arange(T), bs)  # (N,) step of each row
    offsets = torch.cumsum(bs, 0) - bs  # first row of each step
    j_of_row = torch.arange(int(bs.sum())) - offsets[t_of_row]  # (N,) sequence of each row
    if reverse:
        lengths = (bs.unsqueeze(0) > torch.arange(B).unsqueeze(1)).sum(1)  # (B,) L_j
        s_of_row = lengths[j_of_row] - 1 - t_of_row
    else:
        s_of_row = t_of_row
    return s_of_row * B + j_of_row


def parallel_scan(
    cell: MinCell,
    layout: TimeLayout,
    reverse: bool,
    gx: Tensor,
    h0: Tensor,
    chunk: int | None = DEFAULT_CHUNK,
) -> tuple[Tensor, Tensor]:
    """y (N, H) and h_n (B, H) of one layer-direction from packed gx (N, G), chunk by chunk."""
    T, B = layout.T, layout.B
    log_a, log_b = cell.log_coefficients(gx)  # (N, H) each, packed rows
    H = log_a.shape[1]
    if layout.uniform:  # the packed rows already are the (T, B) grid
        log_a, log_b = log_a.view(T, B, H), log_b.view(T, B, H)
        if reverse:
            log_a, log_b = log_a.flip(0), log_b.flip(0)
        hs = chunked_log_scan(log_a, log_b, h0, chunk)  # (T, B, H)
        y = hs.flip(0) if reverse else hs
        return y.reshape(T * B, H), hs[-1]
    pos = _grid_positions(layout.batch_sizes, reverse).to(gx.device)
    grid_a = log_a.new_zeros(T * B, H).index_copy(0, pos, log_a)  # a = 1 on padding
    zero_b = torch.finfo(log_b.dtype).min  # log b on padding: exp is exactly 0, not -inf
    grid_b = log_b.new_full((T * B, H), zero_b).index_copy(0, pos, log_b)
    hs = chunked_log_scan(grid_a.view(T, B, H), grid_b.view(T, B, H), h0, chunk)
    return hs.view(T * B, H).index_select(0, pos), hs[-1]


def sequential_scan(
    cell: MinCell, layout: TimeLayout, reverse: bool, gx: Tensor, h0: Tensor
) -> tuple[Tensor, Tensor]:
    """Same contract as :func:`parallel_scan`, one ``cell.math.step`` per time step."""
    gxs = gx.split(layout.batch_sizes)  # per-step views
    h = h0
    outs: list[Tensor | None] = [None] * layout.T
    for t in layout.order(reverse):
        n = layout.batch_sizes[t]
        h_new, _, _ = cell.math.step(gxs[t], None, h[:n], (), ())
        outs[t] = h_new
        h = h_new if n == h.shape[0] else torch.cat((h_new, h[n:]))
    return torch.cat(outs), h


def min_scan(
    cell: MinCell,
    layout: TimeLayout,
    reverse: bool,
    gx: Tensor,
    h0: Tensor,
    mode: str,
    chunk: int | None = DEFAULT_CHUNK,
) -> tuple[Tensor, Tensor]:
    """Dispatch: "scan", "sequential", or "auto": the scan on CUDA for T > 1, else the loop.

    On CPU the step loop measured faster than the scan at every T tried (benchmarks/
    min_scan.py: 0.56x-0.84x at T = 512 and 4096), so "auto" keeps the loop there.
    """
    if mode == "auto":
        mode = auto_mode(layout, gx)
    if mode == "sequential":
        return sequential_scan(cell, layout, reverse, gx, h0)
    if mode == "scan":
        return parallel_scan(cell, layout, reverse, gx, h0, chunk)
    raise ValueError(f"expected mode in {SCAN_MODES}, got {mode!r}")


def auto_mode(layout: TimeLayout, gx: Tensor) -> str:
    """What "auto" runs: the parallel scan on CUDA for T > 1, else the step loop."""
    return "sequential" if layout.T == 1 or not gx.is_cuda else "scan"
