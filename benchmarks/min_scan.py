"""Benchmark MinGRU / MinLSTM: the log-space parallel scan against the sequential step loop.

Run from the repository root (venv with torch and rnnkit installed):

    python benchmarks/min_scan.py                  # T = 512 and 4096, B = 16, I = H = 128
    python benchmarks/min_scan.py --T 512 --repeats 3 --cells min_gru --threads 1 --name quick

Per cell, T and mode ("scan", "sequential") it times, in float32 with 2 threads, the median of
``--repeats`` runs after one warm-up:
- ``train``: forward + backward of ``output.sum()`` (module in train mode);
- ``infer``: forward under ``torch.no_grad()`` (eval mode);
and once per cell ``stream``: one T = 1 call with a carried state (the streaming step);
and per T the scan core alone (forward + backward), accumulating in float64 vs float32.
It prints a table and writes ``benchmarks/results/<name>.json`` and ``.md`` (atomically:
temp file + ``os.replace``). Timings on a shared machine move: compare within one run.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import torch

from rnnkit.engine.parallel_scan import log_linear_scan
from rnnkit.layers.minimal import MinGRU, MinLSTM

CLASSES = {"min_gru": MinGRU, "min_lstm": MinLSTM}
RESULTS = Path(__file__).resolve().parent / "results"


@dataclass
class Config:
    B: int = 16  # batch size
    I: int = 128  # input size
    H: int = 128  # hidden size
    Ts: tuple[int, ...] = (512, 4096)  # sequence lengths
    repeats: int = 5  # timed runs per measurement; the median is reported
    threads: int = 2  # torch.set_num_threads
    cells: tuple[str, ...] = ("min_gru", "min_lstm")


def median_ms(fn, repeats: int) -> float:
    """Median wall-clock milliseconds of ``repeats`` calls after one warm-up call."""
    fn()
    runs = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        runs.append((time.perf_counter() - t0) * 1e3)
    return statistics.median(runs)


def measure(cell: str, T: int, cfg: Config) -> list[dict]:
    """Rows for one cell and T: train and infer, scan and sequential."""
    torch.manual_seed(0)
    m = CLASSES[cell](cfg.I, cfg.H)
    x = torch.randn(T, cfg.B, cfg.I)
    rows = []
    for mode in ("scan", "sequential"):

        def train(mode=mode):
            m.zero_grad(set_to_none=True)
            out, _ = m(x, mode=mode)
            out.sum().backward()

        def infer(mode=mode):
            with torch.no_grad():
                m(x, mode=mode)

        m.train()
        rows.append({"cell": cell, "T": T, "task": "train", "mode": mode})
        rows[-1]["ms"] = median_ms(train, cfg.repeats)
        m.eval()
        rows.append({"cell": cell, "T": T, "task": "infer", "mode": mode})
        rows[-1]["ms"] = median_ms(infer, cfg.repeats)
    return rows


def measure_stream(cell: str, cfg: Config) -> dict:
    """One T = 1 call with a carried state, no_grad ("auto" takes the sequential step)."""
    m = CLASSES[cell](cfg.I, cfg.H).eval()
    x, h = torch.randn(1, cfg.B, cfg.I), torch.zeros(1, cfg.B, cfg.H)

    def step():
        with torch.no_grad():
            for _ in range(100):
                m(x, h)

    return {"cell": cell, "T": 1, "task": "stream", "mode": "auto", "ms": median_ms(step, 5) / 100}


def measure_accumulate(T: int, cfg: Config) -> list[dict]:
    """The scan core alone, float32 in and out, run in float64 ("scan") or float32 ("seq" col)."""
    g = torch.Generator().manual_seed(0)
    log_a = -torch.rand(T, cfg.B, cfg.H, generator=g).requires_grad_()
    log_b = torch.randn(T, cfg.B, cfg.H, generator=g).requires_grad_()
    h0 = torch.randn(cfg.B, cfg.H, generator=g)
    rows = []
    for mode, acc in (("float64", torch.float64), ("float32", None)):

        def core(acc=acc):
            log_linear_scan(log_a, log_b, h0, accumulate=acc).sum().backward()

        rows.append({"cell": "scan core", "T": T, "task": "train", "mode": mode})
        rows[-1]["ms"] = median_ms(core, cfg.repeats)
    return rows


def table(rows: list[dict]) -> list[str]:
    """Markdown lines: one row per (cell, T, task), scan and sequential side by side."""
    lines = [
        "| cell | T | task | scan ms | sequential ms | sequential / scan |",
        "|---|---|---|---|---|---|",
    ]
    keyed = {(r["cell"], r["T"], r["task"], r["mode"]): r["ms"] for r in rows}
    for cell, T, task in dict.fromkeys((r["cell"], r["T"], r["task"]) for r in rows):
        if cell == "scan core":
            f64, f32 = keyed[cell, T, task, "float64"], keyed[cell, T, task, "float32"]
            lines.append(
                f"| scan core, accumulate float64 vs float32 | {T} | train | {f64:.1f} | "
                f"{f32:.1f} (float32) | {f32 / f64:.2f}x |"
            )
            continue
        scan, seq = keyed.get((cell, T, task, "scan")), keyed.get((cell, T, task, "sequential"))
        if task == "stream":
            lines.append(
                f"| {cell} | 1 | stream (one call) | - | {keyed[cell, 1, task, 'auto']:.3f} | - |"
            )
            continue
        lines.append(f"| {cell} | {T} | {task} | {scan:.1f} | {seq:.1f} | {seq / scan:.2f}x |")
    return lines


def write_atomic(path: Path, text: str) -> None:
    """Write via a temp file in the same folder and ``os.replace``: readers never see half."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w") as f:
            f.write(text)
        os.replace(tmp, path)
    except BaseException:
        os.unlink(tmp)
        raise


def main(argv: list[str] | None = None) -> None:
    defaults = Config()
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--T", type=int, nargs="+", default=list(defaults.Ts), help="lengths")
    p.add_argument("--repeats", type=int, default=defaults.repeats)
    p.add_argument("--cells", nargs="+", choices=list(CLASSES), default=list(defaults.cells))
    p.add_argument("--threads", type=int, default=defaults.threads)
    p.add_argument("--name", default="min_scan", help="results file stem")
    args = p.parse_args(argv)
    cfg = Config(Ts=tuple(args.T), repeats=args.repeats, cells=tuple(args.cells))
    cfg.threads = args.threads
    torch.set_num_threads(cfg.threads)
    machine = {
        "torch": torch.__version__,
        "python": platform.python_version(),
        "cpu_count": os.cpu_count(),
        "threads": torch.get_num_threads(),
        "loadavg_start": os.getloadavg(),
        "dtype": "float32",
    }
    rows = []
    for cell in cfg.cells:
        for T in cfg.Ts:
            rows.extend(measure(cell, T, cfg))
            print(f"done {cell} T={T}", flush=True)
        rows.append(measure_stream(cell, cfg))
    for T in cfg.Ts:
        rows.extend(measure_accumulate(T, cfg))
    machine["loadavg_end"] = os.getloadavg()
    lines = table(rows)
    print("\n".join(lines))
    payload = {"config": asdict(cfg), "machine": machine, "rows": rows}
    write_atomic(RESULTS / f"{args.name}.json", json.dumps(payload, indent=1) + "\n")
    head = (
        f"# MinGRU / MinLSTM: scan vs sequential\n\nB={cfg.B}, I=H={cfg.H}, float32, "
        f"{cfg.threads} threads, median of {cfg.repeats}; torch {torch.__version__}; "
        f"load average {machine['loadavg_start'][0]:.1f} -> {machine['loadavg_end'][0]:.1f}.\n\n"
    )
    note = (
        "\nscan core rows: columns are the scan run in float64 (the default) and in float32, "
        "for float32 inputs; the ratio is float32 / float64.\n"
    )
    write_atomic(RESULTS / f"{args.name}.md", head + "\n".join(lines) + "\n" + note)


if __name__ == "__main__":
    main()
