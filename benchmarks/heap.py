"""glibc's heap thresholds pinned (engine/native/heap.py) against glibc's defaults.

    python benchmarks/heap.py --threads 1 --name heap_1thread

Each configuration runs in fresh processes, alternating: one with the thresholds pinned (as
rnnkit does when its extension loads), one with ``RNNKIT_HEAP=default``; each times training
steps (forward + backward of the mean square, median ms) of rnnkit's layer and of torch.nn's
(the same process's malloc settings) and counts the page faults a step. Writes
benchmarks/results/{name}.json and .md with the machine.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))

from report import machine_info, write_results
from timing import gemm_peak

CONFIGS = [("gru", 16, 100, 64), ("gru", 32, 100, 256), ("rnn", 32, 100, 256),
           ("lstm", 16, 100, 128), ("gru", 64, 200, 512)]  # fmt: skip

_CHILD = """
import resource, statistics, sys, time, torch, rnnkit
from rnnkit.engine.native import heap
cell, B, T, H, threads, repeats = sys.argv[1], *map(int, sys.argv[2:7])
torch.set_num_threads(threads)
torch.manual_seed(0)
names = {"gru": "GRU", "lstm": "LSTM", "rnn": "RNN"}
out = {}
for lib in ("rnnkit", "torch.nn"):
    layer = getattr(rnnkit if lib == "rnnkit" else torch.nn, names[cell])(H, H)
    x = torch.randn(T, B, H, requires_grad=True)
    ms, faults = [], []
    for i in range(repeats + 3):
        f0, t0 = resource.getrusage(resource.RUSAGE_SELF).ru_minflt, time.perf_counter()
        y, _ = layer(x)
        y.square().mean().backward()
        if i >= 3:
            ms.append((time.perf_counter() - t0) * 1e3)
            faults.append(resource.getrusage(resource.RUSAGE_SELF).ru_minflt - f0)
    out[lib] = {"ms": statistics.median(ms), "faults": statistics.median(faults)}
out["heap"] = heap.state()
print(__import__("json").dumps(out))
"""


def child(config: tuple, pinned: bool, args: argparse.Namespace) -> dict:
    env = {k: v for k, v in os.environ.items() if k != "RNNKIT_HEAP"}
    if not pinned:
        env["RNNKIT_HEAP"] = "default"
    argv = [*map(str, config), str(args.threads), str(args.repeats)]
    done = subprocess.run([sys.executable, "-c", _CHILD, *argv], capture_output=True, text=True,
                          env=env, check=True)  # fmt: skip
    return json.loads(done.stdout.strip().splitlines()[-1])


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--repeats", type=int, default=15, help="timed steps per process")
    p.add_argument("--rounds", type=int, default=3, help="process pairs per configuration")
    p.add_argument("--name", default="heap")
    args = p.parse_args(argv)
    rows = []
    for config in CONFIGS:
        runs = {True: [], False: []}
        for _ in range(args.rounds):
            for pinned in (True, False):
                runs[pinned].append(child(config, pinned, args))
        cell, B, T, H = config
        row = {"config": f"{cell.upper()} B{B} T{T} H{H}"}
        for pinned, key in ((True, "pinned"), (False, "default")):
            for lib in ("rnnkit", "torch.nn"):
                for what in ("ms", "faults"):
                    values = [r[lib][what] for r in runs[pinned]]
                    row[f"{key} {lib} {what}"] = statistics.median(values)
        row["heap"] = runs[True][0]["heap"]
        rows.append(row)
        print(row, flush=True)
    torch.set_num_threads(args.threads)
    device = torch.device("cpu")
    machine = machine_info(device, args.threads, gemm_peak(device, (1024,)))
    command = " ".join(["python benchmarks/heap.py", *(argv or sys.argv[1:])])
    table = [
        f"Training step (forward + backward), median ms of {args.rounds} processes each; "
        "faults = page faults a step.", "",
        "| config | rnnkit pinned | rnnkit default | gain | faults pinned / default "
        "| torch.nn pinned | torch.nn default | torch.nn faults pinned / default |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]  # fmt: skip
    for r in rows:
        gain = r["default rnnkit ms"] / r["pinned rnnkit ms"]
        table.append(
            f"| {r['config']} | {r['pinned rnnkit ms']:.2f} | {r['default rnnkit ms']:.2f} | "
            f"{gain:.2f}x | {r['pinned rnnkit faults']:.0f} / {r['default rnnkit faults']:.0f} | "
            f"{r['pinned torch.nn ms']:.2f} | {r['default torch.nn ms']:.2f} | "
            f"{r['pinned torch.nn faults']:.0f} / {r['default torch.nn faults']:.0f} |"
        )
    title = "glibc's heap thresholds: pinned (rnnkit's default) against glibc's defaults"
    write_results(args.name, command, vars(args), machine, rows, title, table)
    return 0


if __name__ == "__main__":
    sys.exit(main())
