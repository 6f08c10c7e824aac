"""The user's second try, after the plain Python loop: ``torch.compile`` of the same loop module.

``compile_loop`` compiles the loop module that new_cells.py times (cell_loops.py) and runs its
first forward + backward, which compiles both (Dynamo unrolls the loop over time, so the
graph, and the compilation, grow with T: about 25 s at T = 10, 47 s at T = 50, 77 s at T = 100
for the CIFG loop, inductor, one thread, AMD Zen 4). It returns the compiled step for the
timed rounds, or None with the reason it is not timed: T above ``max_steps`` (the compilation
would take minutes), compiling turned off, or compilation or its first run failing (the error
is recorded, the benchmark goes on).
"""

from __future__ import annotations

import time
from collections.abc import Callable

import torch
from torch import Tensor, nn

__all__ = ["BACKENDS", "compile_loop"]

BACKENDS = ("inductor", "aot_eager", "eager", "off")  # torch.compile backends; off: not run


def _first_line(exc: BaseException) -> str:
    """One line for the table: the exception's type, and its root cause's type and first line
    (Dynamo wraps a backend's error: "BackendCompilerFailed <- CppCompileError: ...")."""
    root = exc
    while (inner := getattr(root, "inner_exception", None) or root.__cause__) is not None:
        root = inner
    lines = [line.strip() for line in str(root).splitlines() if line.strip()]
    name = type(exc).__name__ + (f" <- {type(root).__name__}" if root is not exc else "")
    return f"{name}: {lines[0] if lines else ''}"[:200]


def compile_loop(
    loop: nn.Module,
    x: Tensor,
    step_of: Callable[[nn.Module], Callable[[], None]],
    backend: str,
    max_steps: int,
) -> tuple[Callable[[], None] | None, dict]:
    """``(step, info)``: the compiled loop's forward + backward step (``step_of`` of the compiled
    module), compiled by one first call, or None where it is not timed. ``info``: ``compile_s``
    (the first call's seconds: compilation of forward and backward plus one run), the float32
    ``compiled_rel_diff`` of its output against the eager loop's (max |Δ| / max |output|:
    inductor may reorder sums), and ``compile_status`` ("ok", "off", "skipped (...)" or
    "failed (...)")."""
    info: dict = {"compile_s": None, "compiled_rel_diff": None}
    steps = x.shape[0]  # T
    if backend == "off":
        return None, info | {"compile_status": "off"}
    if steps > max_steps:
        status = f"skipped (T {steps} > --compile-max-steps {max_steps})"
        return None, info | {"compile_status": status}
    torch._dynamo.reset()  # a fresh cache per row: no recompile limit reached across rows
    compiled = torch.compile(loop, backend=backend)
    step = step_of(compiled)
    try:
        start = time.perf_counter()
        step()  # compiles the forward, then the backward
        info["compile_s"] = time.perf_counter() - start
        # with autograd on as in the step: under no_grad the module would compile again
        theirs, ours = loop(x).detach(), compiled(x).detach()
        scale = max(float(theirs.abs().max()), 1e-12)
        info["compiled_rel_diff"] = float((ours - theirs).abs().max()) / scale
    except Exception as exc:  # any failure of Dynamo / the backend: say so in the column
        torch._dynamo.reset()
        return None, info | {"compile_status": f"failed ({_first_line(exc)})"}
    return step, info | {"compile_status": "ok"}
