"""Inference of a small language model: eager, torch.compile and an AOTInductor package.

    python benchmarks/aoti.py --cell gru --batch 16 --steps 100 --hidden 64 --threads 1

The model of benchmarks/compile.py (embedding, a recurrent layer, a linear head), no grad:
rnnkit eager, rnnkit ``torch.compile(fullgraph=True, dynamic=True)``, rnnkit exported
(torch.export under no_grad, B and T dynamic: the graph holds rnnkit::infer_stack) and
compiled ahead of time into a .pt2 package (``torch._inductor.aoti_compile_and_package``,
loaded with ``aoti_load_package``), and torch.nn eager with the same weights; median ms of
interleaved calls, the build times beside. Writes benchmarks/results/{name}.json and .md with
the machine.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

import torch
from torch.export import Dim

sys.path.insert(0, str(Path(__file__).resolve().parent))

from compile import LAYERS, LanguageModel, measure_and_write


def run(args: argparse.Namespace) -> dict:
    torch.manual_seed(0)
    ours_cls, torch_cls = LAYERS[args.cell]
    ours = LanguageModel(ours_cls(args.embed, args.hidden, batch_first=True), 64, args.embed,
                         args.hidden).eval()  # fmt: skip
    theirs = LanguageModel(torch_cls(args.embed, args.hidden, batch_first=True), 64, args.embed,
                           args.hidden).eval()  # fmt: skip
    theirs.load_state_dict(ours.state_dict())
    tokens = torch.randint(0, 64, (args.batch, args.steps))
    built = {}
    start = time.perf_counter()
    dims = {0: Dim("B", max=4096), 1: Dim("T", max=1 << 16)}
    with torch.no_grad():  # the inference operator (rnnkit::infer_stack), nothing saved
        program = torch.export.export(ours, (tokens,), dynamic_shapes=(dims,))
    assert "rnnkit.infer_stack" in str(program.graph), "exported without the inference operator"
    with tempfile.TemporaryDirectory() as tmp:
        package = torch._inductor.aoti_compile_and_package(program, package_path=f"{tmp}/m.pt2")
        packaged = torch._inductor.aoti_load_package(package)
    built["rnnkit AOTInductor"] = time.perf_counter() - start
    contenders = {
        "rnnkit eager": ours,
        "rnnkit compiled": torch.compile(ours, fullgraph=True, dynamic=True),
        "rnnkit AOTInductor": packaged,
        "torch.nn eager": theirs,
    }
    times: dict[str, list[float]] = {name: [] for name in contenders}
    with torch.no_grad():
        expected = ours(tokens)
        for name, model in contenders.items():
            start = time.perf_counter()
            out = model(tokens)
            built.setdefault(name, time.perf_counter() - start)
            err = ((out - expected).abs().max() / expected.abs().max()).item()
            assert err <= 1e-5, f"{name} differs from eager: {err:.2e}"
        for _ in range(args.repeats):
            for name, model in contenders.items():
                start = time.perf_counter()
                model(tokens)
                times[name].append((time.perf_counter() - start) * 1e3)
    return {name: {"build_s": round(built[name], 2), "steady_ms": round(statistics.median(t), 3)}
            for name, t in times.items()}  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    return measure_and_write(argv, "aoti.py", "Inference", run, ("build_s", "build s", ".1f"),
                             ".3f", {"repeats": 50, "threads": 1, "name": "aoti"})  # fmt: skip


if __name__ == "__main__":
    sys.exit(main())
