"""Benchmark the cells torch.nn lacks (issue 4): LayerNormLSTM, LayerNormGRU, PeepholeLSTM, IndRNN
and a user-defined cell (the CIFG LSTM of docs/custom_cells.md), against the same cell written as
a Python loop of autograd ops and against torch.nn.LSTM of equal size.

Run from the repository root (venv with torch and rnnkit installed):

    python benchmarks/new_cells.py                   # 5 cells x 4 configs, 3 repeats, 2 threads
    python benchmarks/new_cells.py --threads 1 --cells layernorm_lstm,indrnn \\
        --config 16,500,64,128 --repeats 5 --name ln-quick

Per cell and (B, T, I, H), float32, one layer, forward + backward of ``output.sum()`` (the input
requires grad), the median of ``--repeats`` rounds after ``--warmup`` untimed runs; in each round
every contender runs once, so slow drifts of a shared machine hit all of them alike:
- ``auto``: the rnnkit layer, backend "auto" (the engine it took is recorded: native or fused);
- ``fused``: the same layer on the fused BPTT engine (Python time loop, hand-written backward);
- ``loop``: the user's version, a Python loop of autograd ops per step (cell_loops.py), with the
  rnnkit layer's weights copied in; before timing, its output is asserted equal to the layer's
  (float64 copies, first 50 steps: ``f64 Δ`` = max |Δ| / max |output|);
- ``compiled``: that loop module under ``torch.compile`` (``--compile``, inductor by default;
  compiled_loop.py), what users try first: its steady-state time, timed in the same rounds after
  the first call, which compiles it (its seconds are the ``compile s`` column); rows with T above
  ``--compile-max-steps`` are not compiled (Dynamo unrolls the loop: minutes of compilation), and
  a compilation that fails is named in the column, the run goes on;
- ``torch LSTM``: torch.nn.LSTM(I, H), the speed the issue asks to stay within 1.5x of.
Ratios: loop / auto (goal >= 5), compiled / auto (how many times the compiled loop's time
rnnkit's is) and auto / torch LSTM (goal <= 1.5). It prints a table and writes
``<out-dir>/<name>.json`` and ``.md`` atomically (default benchmarks/results/new_cells), with
the load average before and after: timings on a shared machine move, compare within one run.
"""

from __future__ import annotations

import argparse
import copy
import dataclasses
import gc
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

_HERE = str(Path(__file__).resolve().parent)
if _HERE not in sys.path:  # sibling modules import however this file is loaded
    sys.path.insert(0, _HERE)

import torch  # noqa: E402
from torch import Tensor, nn  # noqa: E402

import rnnkit  # noqa: E402
from cell_loops import LOOPS, cifg_cell  # noqa: E402
from compiled_loop import BACKENDS, compile_loop  # noqa: E402
from grid import Config, parse_config  # noqa: E402
from report import machine_info, write_atomic, write_json  # noqa: E402
from rnnkit.engine import backends  # noqa: E402
from timing import gemm_peak, time_once  # noqa: E402

RESULTS = Path(__file__).resolve().parent / "results"
CONFIGS = ("32,100,128,256", "16,500,64,128", "1,1000,32,64", "64,200,256,512")
CONTENDERS = ("auto", "fused", "loop", "compiled", "torch_lstm")
LOOP_GOAL, LSTM_GOAL = 5.0, 1.5  # loop / auto at least; auto / torch LSTM at most
CHECK_RTOL = 1e-9  # loop vs rnnkit output: max |Δ| / max |output|, in float64,
CHECK_STEPS = 50  # over the first 50 steps (see check_loop)


@dataclasses.dataclass
class Options:
    """Every command-line option, with its default; the parser is checked against this."""

    cells: tuple[str, ...] = tuple(LOOPS)  # which cells (cell_loops.LOOPS keys)
    config: tuple[str, ...] = CONFIGS  # "B,T,I,H" shapes
    repeats: int = 3  # timed rounds; the median is reported
    warmup: int = 1  # untimed runs of each contender first
    threads: int = 2  # torch.set_num_threads for the whole run (1 on a busy machine)
    compile: str = "inductor"  # torch.compile backend of the compiled loop ("off": not run)
    compile_max_steps: int = 200  # rows with a longer T leave the compiled loop out
    peak_n: int = 1024  # the sgemm size of the recorded peak (tests pass a small one)
    out_dir: str = str(RESULTS)  # where <name>.json and <name>.md go
    name: str = "new_cells"  # file name stem of the results


def make_layer(cell: str, I: int, H: int) -> nn.Module:
    """The rnnkit layer of ``cell``, float32, every parameter perturbed (so that a wrong copy of
    a layer-norm gain, initialized to ones, would show in the output check)."""
    torch.manual_seed(0)
    layer = {
        "layernorm_lstm": lambda: rnnkit.LayerNormLSTM(I, H),
        "layernorm_gru": lambda: rnnkit.LayerNormGRU(I, H),
        "peephole_lstm": lambda: rnnkit.PeepholeLSTM(I, H),
        "indrnn": lambda: rnnkit.IndRNN(I, H),
        "cifg_lstm": lambda: rnnkit.Recurrent(cifg_cell(), I, H),
    }[cell]()
    with torch.no_grad():
        for p in layer.parameters():
            p.mul_(1 + 0.1 * torch.randn_like(p))
    return layer


def fwd_bwd(model: nn.Module, x: Tensor, backend: str | None):
    """One forward + backward of ``output.sum()``, under rnnkit ``backend`` (None: plain)."""

    def step() -> None:
        model.zero_grad(set_to_none=True)
        x.grad = None
        if backend is None:
            out = model(x)
        else:
            with rnnkit.use_backend(backend):
                out = model(x)
        (out[0] if isinstance(out, tuple) else out).sum().backward()

    return step


def check_loop(layer: nn.Module, loop: nn.Module, x: Tensor) -> float:
    """max |loop - rnnkit| / max |rnnkit| of the output on the first CHECK_STEPS steps of ``x``,
    asserted <= CHECK_RTOL. On float64 copies: the math must be the same, but round-off grows
    along the sequence (float32: 3e-4 at T = 100 for LayerNormLSTM), and some of these cells
    amplify it chaotically (float64 LayerNormLSTM at B16 I64 H128: a 1e-15 change of the input
    moves step 500 by 1e-6), so only a prefix can be held to a tight tolerance."""
    layer64, loop64 = copy.deepcopy(layer).double(), copy.deepcopy(loop).double()
    x64 = x.detach()[:CHECK_STEPS].double()
    with torch.no_grad(), rnnkit.use_backend("auto"):
        ours, theirs = layer64(x64)[0], loop64(x64)
    diff = float((ours - theirs).abs().max()) / max(float(ours.abs().max()), 1e-12)
    assert diff <= CHECK_RTOL, (
        f"{type(loop).__name__} and the rnnkit layer disagree: max |Δ| / max |output| = "
        f"{diff:.3g} in float64"
    )
    return diff


def gemm_floor_ms(layer: nn.Module, cfg: Config, peak_gflops: float) -> float:
    """The least time any engine could take: the layer's GEMMs at the measured sgemm peak.

    Per row of the N = B·T rows, the forward multiplies by W_ih (G, I) and W_hh (G, H) (IndRNN's
    diagonal W_hh is no GEMM) and the backward does twice that (dX and dW_ih, dh and dW_hh):
    3 · 2 · N · (G·I + G·H) FLOPs. loop_ms / floor_ms bounds loop/auto from above, so where it is
    below 5 the goal loop/auto >= 5 is out of reach on this machine for any engine."""
    weights = [p for n, p in layer.named_parameters() if n.startswith("weight_") and p.dim() == 2]
    macs = sum(p.numel() for p in weights)  # per row: G·I + G·H
    return 3 * 2 * cfg.B * cfg.T * macs / (peak_gflops * 1e9) * 1e3


def bench(cell: str, cfg: Config, opts: Options, peak_gflops: float) -> dict:
    """One row: median ms of each contender, the ratios and the output check."""
    layer = make_layer(cell, cfg.I, cfg.H)
    loop = LOOPS[cell].from_layer(layer)
    torch.manual_seed(1)
    lstm = nn.LSTM(cfg.I, cfg.H)
    x = torch.randn(cfg.T, cfg.B, cfg.I, requires_grad=True)
    diff = check_loop(layer, loop, x)
    compiled, compile_info = compile_loop(
        loop, x, lambda m: fwd_bwd(m, x, None), opts.compile, opts.compile_max_steps
    )
    steps = {
        "auto": fwd_bwd(layer, x, "auto"),
        "fused": fwd_bwd(layer, x, "fused"),
        "loop": fwd_bwd(loop, x, None),
        **({"compiled": compiled} if compiled else {}),
        "torch_lstm": fwd_bwd(lstm, x, None),
    }
    cpu = torch.device("cpu")
    for step in steps.values():
        for _ in range(opts.warmup):
            step()
    times: dict[str, list[float]] = {name: [] for name in steps}
    for _ in range(opts.repeats):
        gc.collect()
        for name, step in steps.items():
            times[name].append(time_once(step, cpu))
            if name == "auto":
                engine = backends.last_path  # the engine "auto" took for this float32 layer
    ms = {name: statistics.median(ts) for name, ts in times.items()}
    ms.setdefault("compiled", None)
    return {
        "cell": cell,
        "config": cfg.label,
        **dataclasses.asdict(cfg),
        "engine": engine,
        **{f"{name}_ms": ms[name] for name in CONTENDERS},
        "loop_over_auto": ms["loop"] / ms["auto"],
        "loop_over_fused": ms["loop"] / ms["fused"],
        "compiled_over_auto": ms["compiled"] and ms["compiled"] / ms["auto"],
        **compile_info,
        "auto_over_lstm": ms["auto"] / ms["torch_lstm"],
        "fused_over_lstm": ms["fused"] / ms["torch_lstm"],
        "floor_ms": (floor := gemm_floor_ms(layer, cfg, peak_gflops)),
        "loop_over_floor": ms["loop"] / floor,
        "max_rel_diff_f64": diff,
        "runs_ms": times,
    }


COLUMNS = ("cell", "config", "auto→", "auto ms", "fused ms", "loop ms", "compiled ms",
           "compile s", "torch LSTM ms", "GEMM floor ms", "loop/auto", "compiled/auto",
           "loop/floor", "loop/fused", "auto/LSTM", "goals", "f64 Δ")  # fmt: skip


def compiled_cells(r: dict) -> list[str]:
    """The compiled loop's ms, compile s and compiled/auto; where it did not run, its status."""
    if r["compiled_ms"] is None:
        return [r["compile_status"], "-", "-"]
    return [f"{r['compiled_ms']:.2f}", f"{r['compile_s']:.1f}", f"{r['compiled_over_auto']:.1f}"]


def table_cells(r: dict) -> list[str]:
    five = "yes" if r["loop_over_auto"] >= LOOP_GOAL else "no"
    if five == "no" and r["loop_over_floor"] < LOOP_GOAL:
        five = "out of reach"  # even GEMMs at peak and nothing else would not make it 5x
    goals = f"5x {five}, 1.5x " + ("yes" if r["auto_over_lstm"] <= LSTM_GOAL else "no")
    compiled_ms, compile_s, compiled_over_auto = compiled_cells(r)
    return [
        r["cell"], r["config"], r["engine"], f"{r['auto_ms']:.2f}", f"{r['fused_ms']:.2f}",
        f"{r['loop_ms']:.2f}", compiled_ms, compile_s, f"{r['torch_lstm_ms']:.2f}",
        f"{r['floor_ms']:.2f}", f"{r['loop_over_auto']:.1f}", compiled_over_auto,
        f"{r['loop_over_floor']:.1f}", f"{r['loop_over_fused']:.1f}",
        f"{r['auto_over_lstm']:.2f}", goals, f"{r['max_rel_diff_f64']:.1e}",
    ]  # fmt: skip


def markdown(rows: list[dict], machine: dict, command: str) -> str:
    load = f"{machine['loadavg_start']} -> {machine['loadavg_end']}"
    head = [
        "# Cells torch.nn lacks: rnnkit vs a Python loop (eager and compiled) vs torch.nn.LSTM",
        "",
        f"`{command}`",
        "",
        f"- cpu: {machine['cpu_model']} ({machine['cpu_count']} cores), threads "
        f"{machine['threads']}; torch {machine['torch']}, rnnkit {machine['rnnkit']} "
        f"({machine['rnnkit_git']}); sgemm peak {machine['peak_gflops']} GFLOP/s",
        f"- load average (1, 5, 15 min) start -> end: {load}; `uptime` at start: "
        f"{machine['uptime_start']}",
        f"- cpu flags: {' '.join(machine['cpu_flags'])}; torch capability "
        f"{machine['torch_capability']}; rnnkit native build {machine['native_build']}",
        "- forward + backward of output.sum(), float32, one layer, median ms of "
        f"{machine['repeats']} rounds; goals: loop/auto >= {LOOP_GOAL:g}, "
        f"auto/LSTM <= {LSTM_GOAL:g}; GEMM floor: the layer's GEMMs at the sgemm peak, so "
        'loop/floor is the largest loop/auto any engine could reach here ("out of reach": '
        "below 5); compiled: the loop under torch.compile (backend "
        f"{machine['compile']}), steady state after the first call, which compiles it "
        "(compile s); compiled/auto: how many times rnnkit's time the compiled loop takes",
        "",
        "| " + " | ".join(COLUMNS) + " |",
        "|" + "|".join("---" for _ in COLUMNS) + "|",
    ]
    body = ["| " + " | ".join(c.replace("|", "\\|") for c in table_cells(r)) + " |" for r in rows]
    return "\n".join(head + body) + "\n"


def text_table(rows: list[dict]) -> str:
    body = [list(COLUMNS)] + [table_cells(r) for r in rows]
    widths = [max(len(line[i]) for line in body) for i in range(len(COLUMNS))]
    lines = ["  ".join(c.ljust(w) for c, w in zip(line, widths)).rstrip() for line in body]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def _names(text: str) -> tuple[str, ...]:
    names = tuple(n.strip() for n in text.split(",") if n.strip())
    bad = [n for n in names if n not in LOOPS]
    if bad or not names:
        raise argparse.ArgumentTypeError(
            f"expected cells from {', '.join(LOOPS)} separated by commas; got {text!r}"
        )
    return names


def _positive(text: str) -> int:
    if not text.isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}")
    return int(text)


def parse_args(argv: list[str] | None) -> Options:
    d = Options()
    p = argparse.ArgumentParser(
        prog="benchmarks/new_cells.py",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--cells", type=_names, default=d.cells, help="e.g. layernorm_lstm,indrnn")
    p.add_argument("--config", action="append", help="B,T,I,H (repeatable; default: 4 shapes)")
    p.add_argument("--repeats", type=_positive, default=d.repeats, help="default 3")
    p.add_argument("--warmup", type=int, default=d.warmup, help="untimed runs (default 1)")
    p.add_argument("--threads", type=_positive, default=d.threads, help="default 2")
    p.add_argument(
        "--compile",
        choices=BACKENDS,
        default=d.compile,
        help="torch.compile backend of the compiled loop (default inductor)",
    )
    p.add_argument(
        "--compile-max-steps",
        type=_positive,
        default=d.compile_max_steps,
        help="compile the loop only where T is at most this (default 200)",
    )
    p.add_argument("--peak-n", type=_positive, default=d.peak_n, help="sgemm n for the peak (1024)")
    p.add_argument("--out-dir", default=d.out_dir, help="default benchmarks/results")
    p.add_argument("--name", default=d.name, help="results file stem (default new_cells)")
    ns = p.parse_args(argv)
    ns.config = tuple(ns.config) if ns.config else d.config
    opts = Options(**vars(ns))  # a parser option missing from Options is a TypeError here
    try:
        for text in opts.config:
            parse_config(text)
    except ValueError as e:
        p.error(str(e))
    if opts.warmup < 0:
        p.error(f"expected --warmup >= 0, got {opts.warmup}")
    if not opts.name or Path(opts.name).name != opts.name or opts.name.startswith("."):
        p.error(f"expected --name to be a plain file stem such as 'new_cells', got {opts.name!r}")
    return opts


def _uptime() -> str | None:
    try:
        return subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip() or None
    except OSError:
        return None


def _loadavg() -> list[float] | None:
    try:
        return [round(v, 2) for v in os.getloadavg()]
    except OSError:
        return None


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    opts = parse_args(argv)
    threads_before, started = torch.get_num_threads(), time.time()
    conditions = {"loadavg_start": _loadavg(), "uptime_start": _uptime()}
    torch.set_num_threads(opts.threads)
    gc.freeze()  # what exists now is never garbage: keep it out of every later collection
    rows = []
    try:
        with torch.random.fork_rng(devices=[]):
            peak = gemm_peak(torch.device("cpu"), (opts.peak_n,))
            for cell in opts.cells:
                for text in opts.config:
                    rows.append(bench(cell, parse_config(text), opts, max(peak.values())))
                    print("  ".join(table_cells(rows[-1])), file=sys.stderr, flush=True)
    finally:
        gc.unfreeze()
        torch.set_num_threads(threads_before)
    conditions |= {"loadavg_end": _loadavg(), "repeats": opts.repeats, "compile": opts.compile}
    machine = machine_info(torch.device("cpu"), opts.threads, peak) | conditions
    command = " ".join(["python benchmarks/new_cells.py", *argv])
    payload = {
        "command": command,
        "options": dataclasses.asdict(opts),
        "machine": machine,
        "started": time.strftime("%Y-%m-%dT%H:%M:%S", time.localtime(started)),
        "elapsed_s": round(time.time() - started, 1),
        "rows": rows,
    }
    out_dir = Path(opts.out_dir)
    write_json(out_dir / f"{opts.name}.json", payload)
    write_atomic(out_dir / f"{opts.name}.md", markdown(rows, machine, command))
    print(text_table(rows))
    print(f"\nwrote {out_dir / opts.name}.json and .md in {payload['elapsed_s']} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
