"""Quick timing of the native scan: torch.nn vs rnnkit (native, fused), fwd+bwd, float32.

Run:  python benchmarks/native_quick.py [--runs 7] [--cells gru,rnn,lstm] [--shapes 16,500,64,128]
Prints, per cell and (B, T, I, H), the median milliseconds of forward + backward of
``output.sum()`` (2 threads; the three contenders interleaved run by run) and the ratios
torch.nn / rnnkit (above 1: rnnkit is faster).
The first native call compiles the extension (about a minute, once per machine).
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch

import rnnkit

SHAPES = ((32, 100, 128, 256), (16, 500, 64, 128), (1, 1000, 32, 64), (64, 200, 256, 512))
CELLS = {"rnn": (torch.nn.RNN, rnnkit.RNN), "lstm": (torch.nn.LSTM, rnnkit.LSTM),
         "gru": (torch.nn.GRU, rnnkit.GRU)}  # fmt: skip


def fwd_bwd(module: torch.nn.Module, x: torch.Tensor, backend: str | None):
    """One forward + backward of ``output.sum()``, under rnnkit ``backend`` (None: torch.nn)."""

    def run():
        module.zero_grad(set_to_none=True)
        x.grad = None
        if backend is None:
            module(x)[0].sum().backward()
            return
        with rnnkit.use_backend(backend):
            module(x)[0].sum().backward()

    return run


def bench(cell: str, shape: tuple[int, int, int, int], runs: int, clock) -> dict[str, float]:
    """Median ms of torch.nn and of rnnkit per backend; runs interleaved, after one warm-up.

    Interleaving keeps the ratios fair when the machine's load changes during the measurement.
    """
    B, T, I, H = shape
    torch_cls, kit_cls = CELLS[cell]
    ref = torch_cls(I, H)
    kit = kit_cls(I, H)
    kit.load_state_dict(ref.state_dict())
    x = torch.randn(T, B, I, requires_grad=True)
    fns = {"torch": fwd_bwd(ref, x, None), "native": fwd_bwd(kit, x, "native"),
           "fused": fwd_bwd(kit, x, "fused")}  # fmt: skip
    times: dict[str, list[float]] = {name: [] for name in fns}
    for fn in fns.values():
        fn()
    for _ in range(runs):
        for name, fn in fns.items():
            start = clock()
            fn()
            times[name].append((clock() - start) * 1e3)
    return {name: statistics.median(ts) for name, ts in times.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7, help="timed runs per case (median)")
    parser.add_argument("--cells", default="rnn,gru,lstm", help="comma-separated: rnn,gru,lstm")
    parser.add_argument("--shapes", nargs="*", help="B,T,I,H each; default: the four standard")
    parser.add_argument("--threads", type=int, default=2, help="torch.set_num_threads")
    parser.add_argument(
        "--cpu-time",
        action="store_true",
        help="time with process CPU time instead of wall time: with --threads 1 on a machine "
        "shared with other jobs, close to the wall time the machine would give if it were idle",
    )
    args = parser.parse_args()
    clock = time.process_time if args.cpu_time else time.perf_counter
    torch.set_num_threads(args.threads)
    shapes = [tuple(map(int, s.split(","))) for s in args.shapes] if args.shapes else SHAPES
    print(f"{'cell':5} {'B,T,I,H':>16} {'torch':>9} {'native':>9} {'fused':>9}"
          f" {'torch/native':>13} {'torch/fused':>12}")  # fmt: skip
    for cell in args.cells.split(","):
        for shape in shapes:
            ms = bench(cell, shape, args.runs, clock)
            print(
                f"{cell:5} {','.join(map(str, shape)):>16} {ms['torch']:9.2f} {ms['native']:9.2f}"
                f" {ms['fused']:9.2f} {ms['torch'] / ms['native']:13.2f}"
                f" {ms['torch'] / ms['fused']:12.2f}",
                flush=True,
            )


if __name__ == "__main__":
    main()
