"""What the measured plan's team sub-plan finds on this machine: each configuration's sweeps
shared by a team of threads against each on its calling thread (engine/paths.py: _team_cap).

    python benchmarks/team_plan.py --threads 2 --name team_plan_2threads

Measures in a fresh plan (a temporary cache directory), as a first call of each bucket does:
the forward (+ backward, training) of one layer, fastest of a few runs per candidate; prints
and writes benchmarks/results/{name}.json and .md with the machine and what the plan keeps.
A configuration whose call the plan hands to torch's kernel has no team entry (not timed).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

CONFIGS = [("gru", 4, 100, 256), ("gru", 8, 100, 512), ("gru", 32, 100, 256),
           ("gru", 64, 200, 512), ("gru", 128, 50, 1024), ("rnn", 32, 100, 256),
           ("rnn", 16, 100, 1024), ("rnn", 128, 50, 1024), ("lstm", 64, 100, 512),
           ("layernorm_lstm", 32, 100, 256)]  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--name", default="team_plan")
    args = p.parse_args(argv)
    import torch

    import rnnkit
    from report import fresh_plan, machine_info, write_results
    from rnnkit.engine import autotune
    from timing import gemm_peak

    fresh_plan()
    torch.set_num_threads(args.threads)
    layers = {"gru": rnnkit.GRU, "rnn": rnnkit.RNN, "lstm": rnnkit.LSTM,
              "layernorm_lstm": rnnkit.LayerNormLSTM}  # fmt: skip
    rows = []
    for cell, B, T, H in CONFIGS:
        torch.manual_seed(0)
        layer = layers[cell](min(H, 256), H)
        for grad in (True, False):
            x = torch.randn(T, B, layer.input_size, requires_grad=grad)
            before = set(autotune.entries())
            with torch.set_grad_enabled(grad):
                y, _ = layer(x)
                if grad:
                    y.sum().backward()
            new = {k: v for k, v in autotune.entries().items() if k not in before}
            team = next((v for k, v in new.items() if k.endswith("|team")), None)
            row = {
                "config": f"{cell} B{B} T{T} I{layer.input_size} H{H}",
                "mode": "train" if grad else "infer",
                "team ms": team and team["ms"]["team"],
                "one thread ms": team and team["ms"]["one thread"],
                "kept": team["path"] if team else "(torch's kernel)",
                "entries": new,
            }
            rows.append(row)
            print(row["config"], row["mode"], row["kept"], row["team ms"], row["one thread ms"])
    device = torch.device("cpu")
    machine = machine_info(device, args.threads, gemm_peak(device, (1024,)))
    command = " ".join(["python benchmarks/team_plan.py", *(argv or sys.argv[1:])])
    table = [
        "Fastest run of each candidate as the plan timed it (ms), a fresh plan; `kept` is "
        "what later calls of the bucket run.", "",
        "| config | mode | team ms | one thread ms | team speed-up | kept |",
        "|---|---|---:|---:|---:|---|",
    ]  # fmt: skip
    for r in rows:
        if r["team ms"] is None:
            table.append(f"| {r['config']} | {r['mode']} | | | | {r['kept']} |")
            continue
        gain = r["one thread ms"] / r["team ms"]
        table.append(f"| {r['config']} | {r['mode']} | {r['team ms']:.2f} | "
                     f"{r['one thread ms']:.2f} | {gain:.2f}x | {r['kept']} |")  # fmt: skip
    title = "The team sub-plan: sweeps shared by a team of threads vs on their calling thread"
    write_results(args.name, command, vars(args), machine, rows, title, table)
    return 0


if __name__ == "__main__":
    sys.exit(main())
