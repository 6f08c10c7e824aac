"""bfloat16 autocast against float32, rnnkit and torch.nn, in one process: inference or training.

    python benchmarks/bf16.py                   # no-grad GRU, LSTM at B64 T100 H512, B128 T50 H1024
    python benchmarks/bf16.py --mode train --config 64,50,256,512 --config 128,20,512,1024
    python benchmarks/bf16.py --threads 1 --cells gru --config 64,100,256,512 --name q

Per cell and (B, T, I, H): one layer, float32 weights; ``--mode infer``: ``torch.no_grad()``,
eval mode; ``--mode train``: forward and backward of the output's sum (gradients of the input
and every weight), the loss in float32. The contenders run once each per round, in turn (a
shared machine's drifts hit all alike), after
``--warmup`` untimed rounds (the first call of "auto" measures its plan, engine/autotune.py):
rnnkit "auto" and "native" (backend forced: never torch's kernel), each in float32 and under
``torch.autocast("cpu", dtype=torch.bfloat16)``, and torch.nn's layer of equal size in both.
Reported: median wall ms and median CPU ms (process time: what other work on the machine moves
least), float32 / bfloat16 per contender, and the bfloat16 output's max |Δ| / max |float32
output| (training: of the input's gradient). Writes ``<out-dir>/<name>.json`` and ``.md``
(default benchmarks/results/bf16_<mode>).
"""

from __future__ import annotations

import argparse
import contextlib
import os
import statistics
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))

import rnnkit
from grid import parse_config
from report import machine_info, write_atomic, write_json
from rnnkit.engine import autotune
from timing import gemm_peak

LAYERS = {"gru": (rnnkit.GRU, torch.nn.GRU), "lstm": (rnnkit.LSTM, torch.nn.LSTM),
          "rnn": (rnnkit.RNN, torch.nn.RNN)}  # fmt: skip
CONFIGS = ("64,100,256,512", "128,50,512,1024")


def _call(model, x, backend: str | None, bf16: bool, train: bool):
    def run() -> torch.Tensor:
        cast = torch.autocast("cpu", dtype=torch.bfloat16) if bf16 else contextlib.nullcontext()
        chosen = rnnkit.use_backend(backend) if backend else contextlib.nullcontext()
        if not train:
            with torch.no_grad(), cast, chosen:
                return model(x)[0]
        with cast, chosen:
            out = model(x)[0]
        return torch.autograd.grad(out.float().sum(), [x, *model.parameters()])[0]

    return run


def bench(cell: str, text: str, repeats: int, warmup: int, train: bool) -> dict:
    cfg = parse_config(text)
    ours_cls, torch_cls = LAYERS[cell]
    torch.manual_seed(0)
    ours, theirs = ours_cls(cfg.I, cfg.H).train(train), torch_cls(cfg.I, cfg.H).train(train)
    theirs.load_state_dict(ours.state_dict())
    x = torch.randn(cfg.T, cfg.B, cfg.I, requires_grad=train)
    runs = {
        f"{name} {dtype}": _call(model, x, backend, dtype == "bf16", train)
        for name, model, backend in (
            ("auto", ours, "auto"),
            ("native", ours, "native"),
            ("torch.nn", theirs, None),
        )
        for dtype in ("f32", "bf16")
    }
    outs = {name: run().float() for name, run in runs.items()}
    for _ in range(warmup):
        for run in runs.values():
            run()
    wall: dict[str, list[float]] = {name: [] for name in runs}
    cpu: dict[str, list[float]] = {name: [] for name in runs}
    for _ in range(repeats):
        for name, run in runs.items():
            w, c = time.perf_counter(), time.process_time()
            run()
            wall[name].append(1e3 * (time.perf_counter() - w))
            cpu[name].append(1e3 * (time.process_time() - c))
    row = {"cell": cell, "config": cfg.label, "B": cfg.B, "T": cfg.T, "I": cfg.I, "H": cfg.H}
    for name in runs:
        row[f"{name} wall_ms"] = statistics.median(wall[name])
        row[f"{name} cpu_ms"] = statistics.median(cpu[name])
    for who in ("auto", "native", "torch.nn"):
        ref = outs[f"{who} f32"]
        row[f"{who} err"] = float((outs[f"{who} bf16"] - ref).abs().max() / ref.abs().max())
        for kind in ("wall", "cpu"):
            row[f"{who} speedup_{kind}"] = (
                row[f"{who} f32 {kind}_ms"] / row[f"{who} bf16 {kind}_ms"]
            )
    return row


def markdown(rows: list[dict], machine: dict, command: str, train: bool) -> str:
    title = "Training (forward + backward)" if train else "No-grad inference"
    lines = [
        f"# {title}: bfloat16 autocast vs float32", "", f"`{command}`", "",
        f"- cpu: {machine['cpu_model']} ({machine['cpu_count']} cores; flags "
        f"{' '.join(machine['cpu_flags'])}), threads {machine['threads']}, torch "
        f"{machine['torch']}, native bf16 {machine['native_bf16']}",
        f"- load average start -> end: {machine['loadavg_start']} -> {machine['loadavg_end']}",
        "- median ms (wall / CPU) per call; f32/bf16: float32 time over bfloat16 time (CPU); "
        f"err: max |bf16 - f32| / max |f32| of the {'input gradient' if train else 'output'}",
        "",
        "| cell | config | auto f32 | auto bf16 | auto f32/bf16 | native f32 | native bf16 | "
        "native f32/bf16 | torch.nn f32 | torch.nn bf16 | torch.nn f32/bf16 | err ours / torch |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]  # fmt: skip
    for r in rows:
        cells = [r["cell"], r["config"]]
        for who in ("auto", "native", "torch.nn"):
            for dtype in ("f32", "bf16"):
                cells.append(
                    f"{r[f'{who} {dtype} wall_ms']:.1f} / {r[f'{who} {dtype} cpu_ms']:.1f}"
                )
            cells.append(f"{r[f'{who} speedup_cpu']:.2f}x")
        cells.append(f"{r['native err']:.1e} / {r['torch.nn err']:.1e}")
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--mode", choices=("infer", "train"), default="infer")
    p.add_argument("--cells", default="gru,lstm", help="comma-separated: gru, lstm, rnn")
    p.add_argument("--config", action="append", help="B,T,I,H (repeatable)")
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--warmup", type=int, default=1)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--out-dir", default=str(Path(__file__).resolve().parent / "results"))
    p.add_argument("--name", help="default: bf16_<mode>")
    args = p.parse_args(argv)
    cells = [c for c in args.cells.split(",") if c]
    if not cells or any(c not in LAYERS for c in cells):
        p.error(f"expected --cells from {', '.join(LAYERS)}; got {args.cells!r}")
    threads = torch.get_num_threads()
    torch.set_num_threads(args.threads)
    try:
        return _measure(args, argv, cells)
    finally:
        torch.set_num_threads(threads)


def _measure(args: argparse.Namespace, argv: list[str], cells: list[str]) -> int:
    load_start = [round(v, 2) for v in os.getloadavg()]
    rows = []
    for cell in cells:
        for text in args.config or CONFIGS:
            rows.append(bench(cell, text, args.repeats, args.warmup, args.mode == "train"))
            print(rows[-1], file=sys.stderr, flush=True)
    machine = machine_info(
        torch.device("cpu"), args.threads, gemm_peak(torch.device("cpu"), (512,))
    )
    machine |= {"loadavg_start": load_start, "loadavg_end": [round(v, 2) for v in os.getloadavg()],
                "native_bf16": autotune.native_bf16()}  # fmt: skip
    command = " ".join(["python benchmarks/bf16.py", *argv])
    out, name = Path(args.out_dir), args.name or f"bf16_{args.mode}"
    result = {"command": command, "mode": args.mode, "machine": machine, "rows": rows}
    write_json(out / f"{name}.json", result)
    text = markdown(rows, machine, command, args.mode == "train")
    write_atomic(out / f"{name}.md", text)
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
