"""Benchmark rnnkit.RNN/LSTM/GRU against torch.nn (and a Python loop over torch.nn cells), in
one process, over a grid of cells x (B, T, I, H) configs x layouts x modes x rnnkit backends.

Run from the repository root (venv with torch and rnnkit installed):

    python benchmarks/run.py --quick              # 3 smaller configs, 3 repeats: a few minutes
    python benchmarks/run.py                      # the whole grid, 5 repeats
    python benchmarks/run.py --cells lstm --configs 0,2 --modes train,infer \\
        --backends auto,fused --threads 2 --name lstm-small

It prints a table and writes ``<out-dir>/<name>.json`` (rows + machine info) and ``.md``
(default ``benchmarks/results/latest``). Modes: ``train`` (forward + backward of
``output.sum()``), ``infer`` (forward, no_grad), ``stream`` (T calls of one step at B=1 with
carried state, no_grad; for a bidirectional layout this only measures per-call cost), and
``packed`` (train with random lengths in [T/2, T]; torch via pack_padded_sequence). Speed-up is
torch ms / rnnkit ms. Timings on a shared 2-core machine move 10-30%: compare within one run.
"""

from __future__ import annotations

import argparse
import dataclasses
import gc
import os
import sys
import time
from pathlib import Path

_HERE = str(Path(__file__).resolve().parent)
if _HERE not in sys.path:  # sibling modules import however this file is loaded
    sys.path.insert(0, _HERE)

import torch  # noqa: E402

import rnnkit  # noqa: E402
from grid import CELLS, LAYOUTS, MODES, parse_config, parse_configs  # noqa: E402
from report import (  # noqa: E402
    machine_info,
    markdown,
    table_cells,
    text_table,
    write_atomic,
    write_json,
)
from rnnkit.engine import autotune  # noqa: E402
from suite import Plan, bench_combo  # noqa: E402
from timing import gemm_peak  # noqa: E402

RESULTS = Path(__file__).resolve().parent / "results"


@dataclasses.dataclass
class Options:
    """Every command-line option, with its default; the parser is checked against this."""

    cells: tuple[str, ...] = tuple(CELLS)  # cell kinds: rnn, lstm, gru
    configs: str = "all"  # "all", or indices into grid.CONFIGS such as "0,2"
    config: tuple[str, ...] = ()  # hidden: explicit "B,T,I,H" configs, replacing --configs
    modes: tuple[str, ...] = MODES  # train, infer, stream, packed
    backends: tuple[str, ...] = ("auto",)  # rnnkit backends, each in rnnkit.BACKENDS
    quick: bool = False  # skip the two largest configs; 3 repeats unless --repeats is given
    full: bool = False  # also measure the 4096³ sgemm peak (2048³ always)
    peak_n: int = 2048  # hidden: the sgemm size of the peak (tests pass a small one)
    repeats: int | None = None  # timed runs per measurement; None: 5 (3 with --quick)
    warmup: int = 1  # untimed runs before the timed ones
    threads: int = 2  # torch.set_num_threads for the whole run
    device: str = "cpu"  # cpu or cuda (cuda only when asked; synchronizes around timings)
    out_dir: str = str(RESULTS)  # where <name>.json and <name>.md go
    name: str = "latest"  # file name stem of the results


def _names(kind: str, allowed: tuple[str, ...]):
    """An argparse type: comma-separated names, each one of ``allowed``."""

    def parse(text: str) -> tuple[str, ...]:
        names = tuple(n.strip() for n in text.split(",") if n.strip())
        bad = [n for n in names if n not in allowed]
        if bad or not names:
            raise argparse.ArgumentTypeError(
                f"expected {kind} from {', '.join(allowed)} separated by commas; got {text!r}"
            )
        return names

    return parse


def _positive(text: str) -> int:
    if not text.isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}")
    return int(text)


def build_parser() -> argparse.ArgumentParser:
    d = Options()
    p = argparse.ArgumentParser(
        prog="benchmarks/run.py",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument(
        "--cells", type=_names("cells", tuple(CELLS)), default=d.cells, help="e.g. lstm,gru"
    )
    p.add_argument("--configs", default=d.configs, help="'all' or indices, e.g. 0,2")
    p.add_argument("--config", action="append", default=list(d.config), help=argparse.SUPPRESS)
    p.add_argument("--modes", type=_names("modes", MODES), default=d.modes, help=", ".join(MODES))
    backends = tuple(rnnkit.BACKENDS)  # read at run time: backends come and go
    p.add_argument(
        "--backends",
        type=_names("backends", backends),
        default=d.backends,
        help=f"rnnkit backends from {', '.join(backends)} (default auto)",
    )
    p.add_argument("--quick", action="store_true", help="skip the two largest configs, 3 repeats")
    p.add_argument("--full", action="store_true", help="also time the 4096³ sgemm for the peak")
    p.add_argument("--peak-n", type=_positive, default=d.peak_n, help=argparse.SUPPRESS)
    p.add_argument("--repeats", type=_positive, default=d.repeats, help="default 5, quick 3")
    p.add_argument("--warmup", type=int, default=d.warmup, help="untimed runs (default 1)")
    p.add_argument("--threads", type=_positive, default=d.threads, help="default 2")
    p.add_argument("--device", choices=("cpu", "cuda"), default=d.device)
    p.add_argument("--out-dir", default=d.out_dir, help="default benchmarks/results")
    p.add_argument("--name", default=d.name, help="results file stem (default latest)")
    return p


def parse_args(argv: list[str] | None) -> Options:
    parser = build_parser()
    ns = parser.parse_args(argv)
    opts = Options(**vars(ns))  # a parser option missing from Options is a TypeError here
    try:
        parse_configs(opts.configs, opts.quick)
        for text in opts.config:
            parse_config(text)
    except ValueError as e:
        parser.error(str(e))
    if opts.device == "cuda" and not torch.cuda.is_available():
        parser.error(f"--device cuda asked, but this torch ({torch.__version__}) sees no GPU")
    if opts.warmup < 0:
        parser.error(f"expected --warmup >= 0, got {opts.warmup}")
    if not opts.name or Path(opts.name).name != opts.name or opts.name.startswith("."):
        parser.error(f"expected --name to be a plain file stem such as 'latest', got {opts.name!r}")
    return opts


def _progress(row: dict) -> None:
    cells = table_cells(row)
    print("  ".join(c for c in cells if c), file=sys.stderr, flush=True)


def run_grid(opts: Options, plan: Plan) -> list[dict]:
    """All result rows: cells x configs x layouts, each with every mode and backend."""
    if opts.config:
        configs = [(text, parse_config(text)) for text in opts.config]
    else:
        configs = parse_configs(opts.configs, opts.quick)
    rows = []
    for cell in opts.cells:
        for config_id, cfg in configs:
            for layout in LAYOUTS:
                for row in bench_combo(cell, cfg, layout, plan, _progress):
                    row["config_id"] = config_id
                    rows.append(row)
    return rows


def _load_note(threads: int) -> tuple[float | None, str | None]:
    """The 1-minute load average, and a warning when other work competes for the cores."""
    try:
        load = os.getloadavg()[0]
    except OSError:
        return None, None
    cores = os.cpu_count() or 1
    if load + threads <= cores + 0.5:
        return load, None
    note = f"warning: load average {load:.1f} on {cores} cores: other processes compete for them"
    if threads > 1:
        note += (
            f"; with {threads} threads a parallel region waits for its slowest, descheduled "
            "thread (torch.nn.LSTM's oneDNN path most of all: seen up to 100x per call)"
        )
    return load, note + ". Timings are unreliable; use a quiet machine or --threads 1."


def _run_all(opts: Options, device: torch.device, repeats: int) -> tuple[list[dict], dict]:
    """The rows, and what the machine was doing: sgemm peak and load, before and after."""
    sizes = (opts.peak_n, 4096) if opts.full else (opts.peak_n,)
    load_start, note = _load_note(opts.threads)
    if note:
        print(note, file=sys.stderr)
    peak_start = gemm_peak(device, sizes)
    print(f"sgemm peak: {max(peak_start.values()):.1f} GFLOP/s", file=sys.stderr)
    plan = Plan(
        modes=tuple(m for m in MODES if m in opts.modes),
        backends=opts.backends,
        repeats=repeats,
        warmup=opts.warmup,
        device=device,
        peak_gflops=max(peak_start.values()),
    )
    rows = run_grid(opts, plan)
    peak_end = gemm_peak(device, sizes)
    peak = {n: max(peak_start[n], peak_end[n]) for n in sizes}
    for row in rows:  # % of the better of the two peak measurements
        for who in ("torch", "rnnkit"):
            gflops = row[f"gflops_{who}"]
            row[f"pct_peak_{who}"] = None if gflops is None else 100 * gflops / max(peak.values())
    conditions = {
        "peak": peak,
        "gemm_gflops_start": {str(n): round(g, 1) for n, g in peak_start.items()},
        "gemm_gflops_end": {str(n): round(g, 1) for n, g in peak_end.items()},
        "loadavg_start": load_start,
        "loadavg_end": _load_note(opts.threads)[0],
        "load_warning": note,
    }
    return rows, conditions


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark; returns 0, or 1 when some measurement failed (see the rows' error)."""
    argv = sys.argv[1:] if argv is None else list(argv)
    opts = parse_args(argv)
    repeats = opts.repeats or (3 if opts.quick else 5)
    device = torch.device(opts.device)
    threads_before, started = torch.get_num_threads(), time.time()
    torch.set_num_threads(opts.threads)
    gc.freeze()  # what exists now is never garbage: keep it out of every later collection
    try:
        with torch.random.fork_rng(devices=[]):
            rows, conditions = _run_all(opts, device, repeats)
    finally:
        gc.unfreeze()
        torch.set_num_threads(threads_before)
    machine = machine_info(device, opts.threads, conditions.pop("peak")) | conditions
    command = " ".join(["python benchmarks/run.py", *argv])
    payload = {
        "command": command,
        "options": dataclasses.asdict(opts) | {"repeats": repeats},
        "machine": machine,
        "started": time.strftime("%Y-%m-%dT%H:%M:%S", time.localtime(started)),
        "elapsed_s": round(time.time() - started, 1),
        "rows": rows,
        # the engine's choice per shape bucket, as it ran (none: fixed defaults)
        "plan": autotune.entries() if autotune.enabled() else {},
    }
    out_dir = Path(opts.out_dir)
    write_json(out_dir / f"{opts.name}.json", payload)
    write_atomic(out_dir / f"{opts.name}.md", markdown(rows, machine, command))
    print(text_table(rows))
    if conditions["load_warning"]:
        print("\n" + conditions["load_warning"])
    print(f"\nwrote {out_dir / opts.name}.json and .md in {payload['elapsed_s']} s")
    return 1 if any(r["error"] for r in rows) else 0


if __name__ == "__main__":
    sys.exit(main())
