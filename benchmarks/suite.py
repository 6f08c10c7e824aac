"""Running the grid: for one (cell, config, layout), time every requested mode for torch.nn, the
Python-loop baseline and rnnkit under each backend, and turn the timings into result rows.

The implementations of one mode are timed together, interleaved: ``warmup`` untimed runs of
each (at least two in train modes, the second of which also counts the bytes saved for
backward), then ``repeats``
rounds of one timed run of each, so that load from other processes on a shared machine falls on
all of them alike. Each reports the median of its runs.
"""

from __future__ import annotations

import gc
import statistics
import sys
from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import nn

import rnnkit
from grid import CELLS, Config, Layout, mode_flops
from impls import CellLoop, Inputs, build_models, mode_closures, output_diff
from timing import saved_bytes, time_once

__all__ = ["Plan", "bench_combo"]


@dataclass(frozen=True)
class Plan:
    """What to measure for each (cell, config, layout), and how."""

    modes: tuple[str, ...]  # in grid.MODES order
    backends: tuple[str, ...]  # rnnkit backends, each a name in rnnkit.BACKENDS
    repeats: int  # timed runs per measurement (the median is reported)
    warmup: int  # untimed runs before them
    device: torch.device
    peak_gflops: float  # the sgemm peak that %peak refers to


@dataclass
class Impl:
    """One thing to time: ``model`` in ``mode``, under rnnkit ``backend`` (None: not rnnkit)."""

    model: nn.Module
    mode: str
    backend: str | None = None
    step: Callable[[], None] | None = None
    result: dict | None = None

    def run(self, fn: Callable[[], object]) -> object:
        if self.backend is None:
            return fn()
        with rnnkit.use_backend(self.backend):
            return fn()


def _engine_path() -> str | None:
    """The engine rnnkit's latest scan ran on ("native", "fused", ...), where rnnkit says."""
    backends = sys.modules.get("rnnkit.engine.backends")
    return getattr(backends, "last_path", None)


def _failed(impl: Impl, e: Exception) -> None:
    impl.result, impl.step = (
        {"error": f"{type(impl.model).__name__}: {type(e).__name__}: {e}"},
        None,
    )


def _warm_up(impl: Impl, inputs: Inputs, plan: Plan) -> None:
    """Build the closures, run the warmups (in train modes the second counts saved bytes: on
    a first call the measured plan times its candidates on copies, whose saved tensors the
    count would take for the layer's)."""
    try:
        step, forward_loss = mode_closures(impl.model, impl.mode, inputs, impl.backend is None)
        impl.result, warmup = {"runs_ms": []}, plan.warmup
        if forward_loss is not None:
            impl.run(step)
            impl.result["saved"] = impl.run(lambda: saved_bytes(forward_loss))
            warmup = max(0, warmup - 2)
        for _ in range(warmup):
            impl.run(step)
        impl.step = step
    except Exception as e:  # one failing implementation must not end a long run
        _failed(impl, e)


def measure(impls: list[Impl], inputs: Inputs, plan: Plan) -> None:
    """Fill each ``impl.result`` with {"ms", "min_ms", "runs_ms"[, "saved", "engine"]} or
    {"error"}; the timed runs of all impls are interleaved round by round."""
    for impl in impls:
        _warm_up(impl, inputs, plan)
    for _ in range(plan.repeats):
        for impl in impls:
            if impl.step is None:
                continue
            try:
                ms = impl.run(lambda impl=impl: time_once(impl.step, plan.device))
                impl.result["runs_ms"].append(ms)
                if impl.backend is not None:
                    impl.result["engine"] = _engine_path()
            except Exception as e:
                _failed(impl, e)
    for impl in impls:
        runs = impl.result.get("runs_ms")
        if runs:
            impl.result["ms"], impl.result["min_ms"] = statistics.median(runs), min(runs)


def _rates(ms: float | None, flops: int, peak: float) -> tuple[float | None, float | None]:
    """(GFLOP/s, % of peak) of a run of ``flops`` taking ``ms``."""
    if not ms:
        return None, None
    gflops = flops / (ms * 1e-3) / 1e9
    return gflops, 100 * gflops / peak


def _row(key: dict, mode: str, backend: str, got: dict, flops: int, plan: Plan) -> dict:
    """A result row from the measurements ``got`` ("torch", "rnnkit", "loop", "padded_*")."""
    t, r, loop = got["torch"], got["rnnkit"], got.get("loop", {})
    row = {**key, "mode": mode, "backend": backend, "engine": r.get("engine"), "flops": flops}
    row["torch_ms"], row["rnnkit_ms"], row["loop_ms"] = t.get("ms"), r.get("ms"), loop.get("ms")
    row["torch_min_ms"], row["rnnkit_min_ms"] = t.get("min_ms"), r.get("min_ms")
    row["torch_runs_ms"], row["rnnkit_runs_ms"] = t.get("runs_ms"), r.get("runs_ms")
    row["speedup"] = t["ms"] / r["ms"] if t.get("ms") and r.get("ms") else None
    row["loop_vs_rnnkit"] = loop["ms"] / r["ms"] if loop.get("ms") and r.get("ms") else None
    row["gflops_torch"], row["pct_peak_torch"] = _rates(t.get("ms"), flops, plan.peak_gflops)
    row["gflops_rnnkit"], row["pct_peak_rnnkit"] = _rates(r.get("ms"), flops, plan.peak_gflops)
    row["saved_bytes_torch"], row["saved_bytes_rnnkit"] = t.get("saved"), r.get("saved")
    row["saved_bytes_loop"] = loop.get("saved")
    row["max_abs_diff"] = got.get("diff")
    if mode == "packed":
        row["padded_torch_ms"] = got["padded_torch"].get("ms")
        row["padded_rnnkit_ms"] = got["padded_rnnkit"].get("ms")
    errors = [f"{k}: {v['error']}" for k, v in got.items() if isinstance(v, dict) and "error" in v]
    row["error"] = "; ".join(errors) or None
    return row


def _diff(ref: nn.Module, ours: nn.Module, inputs: Inputs, mode: str, backend: str):
    try:
        with rnnkit.use_backend(backend):
            return output_diff(ref, ours, inputs, mode)
    except Exception:  # the measurement of ours has recorded the error already
        return None


def _mode_impls(mode: str, cell: str, ref, ours, backends, done: dict) -> dict[str, Impl]:
    """The Impls that ``mode`` needs and ``done`` lacks, keyed as in ``done``: (mode, name)."""
    want = {(mode, "torch"): Impl(ref, mode)}
    for b in backends:
        want[mode, f"rnnkit:{b}"] = Impl(ours, mode, b)
    if mode == "train":
        want[mode, "loop"] = Impl(CellLoop(ref, cell), mode)
    if mode == "packed":  # compared with padded input of the same size: the train runs
        want["train", "torch"] = Impl(ref, "train")
        for b in backends:
            want["train", f"rnnkit:{b}"] = Impl(ours, "train", b)
    return {k: v for k, v in want.items() if k not in done}


def bench_combo(cell: str, cfg: Config, layout: Layout, plan: Plan, report) -> list[dict]:
    """Result rows of every mode x backend for one (cell, config, layout); ``report(row)``
    is called as each row is done (progress)."""
    gc.collect()  # cheap: main() has frozen what was allocated before the run
    ref, ours = build_models(cell, cfg, layout, plan.device)
    inputs = Inputs(cfg, plan.device)
    key = {"cell": cell, "layout": layout.name, "config": cfg.label}
    key |= {"B": cfg.B, "T": cfg.T, "I": cfg.I, "H": cfg.H}
    key |= {"num_layers": layout.num_layers, "bidirectional": layout.bidirectional}
    done: dict[tuple[str, str], dict] = {}  # (mode, impl name) -> measurement
    rows = []
    for mode in plan.modes:
        if mode == "packed" and not CELLS[cell].packable:
            continue
        todo = _mode_impls(mode, cell, ref, ours, plan.backends, done)
        measure(list(todo.values()), inputs, plan)
        done |= {k: impl.result for k, impl in todo.items()}
        rows_flops = inputs.packed_rows if mode == "packed" else None
        flops = mode_flops(CELLS[cell].gates, cfg, layout, mode, rows_flops)
        for b in plan.backends:
            got = {"torch": done[mode, "torch"], "rnnkit": done[mode, f"rnnkit:{b}"]}
            if mode == "train":
                got["loop"] = done[mode, "loop"]
            if mode == "packed":
                got["padded_torch"] = done["train", "torch"]
                got["padded_rnnkit"] = done["train", f"rnnkit:{b}"]
            got["diff"] = _diff(ref, ours, inputs, mode, b)
            rows.append(_row(key, mode, b, got, flops, plan))
            report(rows[-1])
    return rows
