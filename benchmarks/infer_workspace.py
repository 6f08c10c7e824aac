"""The no-grad stack's kept scratch (csrc/infer.cpp ``workspace``) against fresh buffers per call.

    python benchmarks/infer_workspace.py                 # 2 threads, GRU and LSTM, two sizes
    python benchmarks/infer_workspace.py --threads 1 --name infer_workspace_1thread

Per cell, (B, T, H) and precision (float32; bfloat16 autocast, which the CPU runs natively only
with AVX512-BF16 or AMX): one layer, ``torch.no_grad()``, the native backend; each round runs
the call once with the scratch the previous call left ("kept", what every call after the first
gets) and once after ``rnnkit.engine.native.release_workspace()`` ("fresh": every buffer
allocated anew, as before the workspace: above glibc's 32 MB mmap threshold the kernel zeroes
its pages on first touch, every call). Minimum wall ms of ``--repeats`` rounds; writes
``<out-dir>/<name>.json`` and ``.md``.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))

import rnnkit
from report import machine_info, write_atomic, write_json
from rnnkit.engine.native import release_workspace
from timing import gemm_peak

CONFIGS = ((64, 100, 512), (128, 50, 1024))  # B, T, H (I = H)
LAYERS = {"gru": rnnkit.GRU, "lstm": rnnkit.LSTM}


def _time(layer, x, bf16: bool, repeats: int) -> dict[str, float]:
    best = {"kept": float("inf"), "fresh": float("inf")}
    autocast = torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16)
    with torch.no_grad(), rnnkit.use_backend("native"), autocast:
        layer(x)
        for _ in range(repeats):
            for mode in best:
                if mode == "fresh":
                    release_workspace()
                start = time.perf_counter()
                layer(x)
                best[mode] = min(best[mode], (time.perf_counter() - start) * 1e3)
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--name", default="infer_workspace")
    parser.add_argument("--out-dir", default=str(Path(__file__).parent / "results"))
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    rows = []
    for cell, make in LAYERS.items():
        for B, T, H in CONFIGS:
            torch.manual_seed(0)
            layer, x = make(H, H), torch.randn(T, B, H)
            for bf16 in (False, True):
                ms = _time(layer, x, bf16, args.repeats)
                rows.append({"cell": cell, "B": B, "T": T, "H": H,
                             "precision": "bfloat16" if bf16 else "float32",
                             "kept_ms": round(ms["kept"], 2), "fresh_ms": round(ms["fresh"], 2),
                             "speedup": round(ms["fresh"] / ms["kept"], 3)})  # fmt: skip
                print(rows[-1], flush=True)
    cpu = torch.device("cpu")
    machine = machine_info(cpu, args.threads, gemm_peak(cpu, (1024,)))
    out = Path(args.out_dir)
    write_json(out / f"{args.name}.json", {"machine": machine, "rows": rows})
    lines = [f"# No-grad stack: kept scratch vs fresh buffers ({args.threads} threads)", "",
             f"`python benchmarks/infer_workspace.py --threads {args.threads} --name {args.name}`",
             "", f"- cpu: {machine['cpu_model']} ({', '.join(machine['cpu_flags'])}), torch "
             f"{machine['torch']}, rnnkit {machine['rnnkit_git']}", "",
             "| cell | B T H | precision | kept ms | fresh ms | fresh / kept |",
             "|---|---|---|---:|---:|---:|"]  # fmt: skip
    for r in rows:
        lines.append(f"| {r['cell']} | B{r['B']} T{r['T']} H{r['H']} | {r['precision']} | "
                     f"{r['kept_ms']} | {r['fresh_ms']} | {r['speedup']:.2f}x |")  # fmt: skip
    write_atomic(out / f"{args.name}.md", "\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
