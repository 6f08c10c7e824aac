"""What the measured plan's GEMM choice gives on this machine: a training step with every big
float32 product on MKL (torch.mm) against each on oneDNN (engine/gemm.py), and what the plan
keeps for each product.

    python benchmarks/gemm_plan.py --threads 2 --name gemm_plan_2threads_idle

Per configuration (one layer or a 2-layer bidirectional stack, forward + backward of
``output.sum()``, the input requires grad): the median of ``--repeats`` rounds, each running
the step with the products forced onto MKL and then onto oneDNN (the plan's own answer
replaced, nothing else); then the same step in a fresh plan, as a first call measures it, and
the entries it keeps. Prints and writes benchmarks/results/{name}.json and .md with the
machine.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

# (cell, layers, bidirectional, B, T, I, H)
CONFIGS = [("gru", 1, False, 32, 100, 128, 256), ("gru", 1, False, 64, 50, 256, 512),
           ("gru", 1, False, 128, 50, 512, 1024), ("rnn", 2, True, 32, 100, 128, 256),
           ("lstm", 1, False, 32, 100, 128, 256), ("layernorm_lstm", 1, False, 32, 100, 256, 256),
           ("peephole_lstm", 1, False, 32, 100, 256, 256)]  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--repeats", type=int, default=7)
    p.add_argument("--name", default="gemm_plan")
    args = p.parse_args(argv)
    import torch

    import rnnkit
    from report import fresh_plan, machine_info, write_results
    from rnnkit.engine import autotune, gemm
    from timing import gemm_peak

    fresh_plan()
    torch.set_num_threads(args.threads)
    layers = {"gru": rnnkit.GRU, "rnn": rnnkit.RNN, "lstm": rnnkit.LSTM,
              "layernorm_lstm": rnnkit.LayerNormLSTM,
              "peephole_lstm": rnnkit.PeepholeLSTM}  # fmt: skip
    choose, forced = autotune.choose, {"path": None}

    def choose_forced(key, trials, default):
        if forced["path"] and key.startswith("gemm|"):
            return forced["path"]
        return choose(key, trials, default)

    gemm.autotune = type("Plan", (), {"choose": staticmethod(choose_forced)})

    def step(layer, x) -> float:
        start = time.perf_counter()
        y, _ = layer(x)
        y.sum().backward()
        return (time.perf_counter() - start) * 1e3

    rows = []
    for cell, L, bi, B, T, I, H in CONFIGS:
        torch.manual_seed(0)
        layer = layers[cell](I, H, num_layers=L, bidirectional=bi)
        x = torch.randn(T, B, I, requires_grad=True)

        times: dict[str, list[float]] = {"mkl": [], "onednn": []}
        for path in times:  # warm-up: packed weights, primitives, the stack-level plan
            forced["path"] = path
            step(layer, x), step(layer, x)
        for _ in range(args.repeats):
            for path, runs in times.items():
                forced["path"] = path
                runs.append(step(layer, x))
        forced["path"] = None
        before = set(autotune.entries())
        step(layer, x)  # the plan's own first call of the products' buckets
        kept = {k: v for k, v in autotune.entries().items() if k not in before and "gemm|" in k}
        mkl, dnn = statistics.median(times["mkl"]), statistics.median(times["onednn"])
        label = f"{cell} {'2L bi' if L == 2 else '1L'} B{B} T{T} I{I} H{H}"
        rows.append({"config": label, "mkl_ms": round(mkl, 3), "onednn_ms": round(dnn, 3),
                     "speed_up": round(mkl / dnn, 3), "kept": kept})  # fmt: skip
        print(f"{label}: MKL {mkl:.2f} ms, oneDNN {dnn:.2f} ms, {mkl / dnn:.3f}x", flush=True)
    device = torch.device("cpu")
    machine = machine_info(device, args.threads, gemm_peak(device, (1024,)))
    command = " ".join(["python benchmarks/gemm_plan.py", *(argv or sys.argv[1:])])
    table = [
        "Training step (forward + backward), median ms; the products' kept paths from a fresh "
        "plan (M: rows rounded up, K x N: the product's widths; bT: the right operand is a "
        "transposed row-major matrix).", "",
        "| config | MKL ms | oneDNN ms | speed-up | the plan kept |", "|---|---:|---:|---:|---|",
    ]  # fmt: skip
    for r in rows:
        kept = "; ".join(f"{k.split('|', 1)[1].rsplit('|float32', 1)[0]}: {v['path']}"
                         for k, v in r["kept"].items())  # fmt: skip
        table.append(f"| {r['config']} | {r['mkl_ms']:.2f} | {r['onednn_ms']:.2f} | "
                     f"{r['speed_up']:.3f}x | {kept} |")  # fmt: skip
    title = "The GEMM sub-plan: a training step's big float32 products on MKL vs oneDNN"
    write_results(args.name, command, vars(args), machine, rows, title, table)
    return 0


if __name__ == "__main__":
    sys.exit(main())
