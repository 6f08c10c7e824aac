"""``rnnkit diagnose``: gradient flow through time of each cell on the adding problem.

    rnnkit diagnose --cells rnn,lstm,gru --T 200                 # trains each cell briefly first
    rnnkit diagnose --cells rnn,lstm,gru --T 200 --train-steps 0  # untrained: the curves coincide
    python -m rnnkit.commands.diagnose --cells rnn,lstm,gru --T 200 --out docs

For each cell: the adding-problem model (recurrent layer + Linear head, seeded), trained for
``--train-steps`` Adam steps, then ``rnnkit.diagnostics.gradient_flow`` (in float64) on one
held-out batch with the adding-problem MSE at the last step as the loss. Writes
``{out}/gradient_flow.png`` and ``{out}/gradient_flow.json`` and prints, per cell, the ratio
|dL/dh_1| / |dL/dh_T| and the spectral radii of W_hh's gate blocks.
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
from collections.abc import Sequence
from pathlib import Path

import torch
import torch.nn.functional as F

from ..diagnostics import GradientFlowReport, gradient_flow, plot_gradient_flow
from ..errors import RnnkitError
from ..tasks.synthetic import CELLS, SynthConfig, adding_batch, build_model, fit
from . import common_arguments, write_json_atomic
from .flags import HelpFormatter, add_arguments

__all__ = ["TRAIN_STEPS", "add_parser", "main", "run"]

# Adam steps of each cell before measuring, by default: at init every cell forgets at the same
# rate and the curves coincide. After 500 steps at T = 200 (seed 0, about 20 CPU-seconds a cell)
# the GRU's |dL/dh_1| / |dL/dh_T| is 2e-3, the LSTM's 5e-33, the RNN's 9e-43; after 1500 (the
# figure of docs/synthetic.md) the GRU has solved the task. --train-steps 0: untrained cells.
TRAIN_STEPS = 500
_DEFAULTS = dataclasses.replace(SynthConfig(), T=200)
_SKIP = (
    "task",
    "cell",
    "steps",
    "eval_every",
    "eval_size",
    "clip",
    "stop_on_solve",
    "forget_bias",
    "chrono",
)
_T_HELP = "sequence length of the adding problem: steps between the first input and the loss"


def add_parser(subparsers) -> None:
    """Add the ``diagnose`` subcommand to an argparse ``subparsers`` object."""
    about = __doc__.splitlines()[0]
    p = subparsers.add_parser(
        "diagnose",
        help="gradient flow through time per cell (adding problem)",
        description=about,
        formatter_class=HelpFormatter,
    )
    p.add_argument(
        "--cells", default="rnn,lstm,gru", help=f"comma-separated, from: {', '.join(CELLS)}"
    )
    p.add_argument(
        "--train-steps",
        type=int,
        default=TRAIN_STEPS,
        help="Adam steps of each cell before measuring; 0 = measure the untrained cells",
    )
    add_arguments(p, _DEFAULTS, skip=_SKIP, helps={"T": _T_HELP})
    common_arguments(p, "runs/diagnose", "folder for PNG+JSON")
    p.set_defaults(func=run)


def _check(args: argparse.Namespace) -> list[str]:
    """The cell names; ``RnnkitError`` with a one-line message for bad input."""
    cells = [c.strip() for c in args.cells.split(",") if c.strip()]
    if not cells:
        raise RnnkitError(f"expected --cells as a comma-separated list; got {args.cells!r}")
    unknown = [c for c in cells if c not in CELLS]
    if unknown:
        raise RnnkitError(f"unknown cell {unknown[0]!r}; expected one of {', '.join(CELLS)}")
    if args.train_steps < 0:
        raise RnnkitError(f"expected --train-steps >= 0, got {args.train_steps}")
    _config(args, cells[0])  # T, hidden, batch size and lr as SynthConfig checks them
    return cells


def _config(args: argparse.Namespace, cell: str) -> SynthConfig:
    """The adding-problem training run of ``cell`` that ``--train-steps`` asks for."""
    steps = max(1, args.train_steps)
    kept = {name: getattr(args, name) for name in ("T", "hidden", "batch_size", "lr", "seed")}
    return SynthConfig("adding", cell, steps=steps, eval_every=steps, **kept)  # RnnkitError


def measure(cell: str, args: argparse.Namespace) -> tuple[GradientFlowReport, dict | None]:
    """(gradient-flow report, training result or None) for one cell."""
    model = build_model("adding", cell, args.hidden, args.seed)
    trained = None
    if args.train_steps:
        trained = fit(model, _config(args, cell))
        trained.pop("history")
    x, y = adding_batch(args.T, args.batch_size, torch.Generator().manual_seed(args.seed + 2))
    # measured in float64: over hundreds of steps the norms fall below float32's range
    model, x, y = model.double().eval(), x.double(), y.double()
    report = gradient_flow(model, x, lambda out: F.mse_loss(out[-1, :, 0], y))
    return report, trained


def _radii(report: GradientFlowReport) -> str:
    spectra = report.layers[0].spectra
    if not spectra:
        return "-"
    s = spectra[0]
    if s.spectral_radius is not None and len(s.gates) <= 1:
        return f"{s.spectral_radius:.3f}"
    return " ".join(f"{g.gate}={g.spectral_radius:.2f}" for g in s.gates if g.spectral_radius)


def run(args: argparse.Namespace) -> int:
    """Measure every cell, write PNG + JSON, print the table; 0 (bad input raises RnnkitError)."""
    cells = _check(args)
    torch.set_num_threads(max(1, args.threads))
    reports, rows, out = {}, {}, {}
    for cell in cells:
        report, trained = measure(cell, args)
        reports[cell] = report
        out[cell] = {"train": trained, "gradient_flow": report.to_dict()}
        rows[cell] = report.layers[0]
    args.out.mkdir(parents=True, exist_ok=True)
    title = f"Adding problem, T={args.T}, H={args.hidden}, after {args.train_steps} train steps"
    png = plot_gradient_flow(reports, args.out / "gradient_flow.png", title=title)
    meta = {k: str(v) if isinstance(v, Path) else v for k, v in vars(args).items() if k != "func"}
    js = write_json_atomic(args.out / "gradient_flow.json", {"args": meta, "cells": out})
    print(f"{'cell':<8}{'loss':>9}{'|dL/dh_1|':>12}{'|dL/dh_T|':>12}{'ratio':>11}  W_hh radius")
    for cell, flow in rows.items():
        g = flow.grad_norm
        print(
            f"{cell:<8}{reports[cell].loss:>9.4f}{g[0].item():>12.3e}{g[-1].item():>12.3e}"
            f"{flow.ratio():>11.3e}  {_radii(reports[cell])}"
        )
    print(f"wrote {png} and {js}")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m rnnkit.commands.diagnose [options]``: ``rnnkit diagnose`` itself."""
    from ..cli import main as rnnkit_main

    return rnnkit_main(["diagnose", *(sys.argv[1:] if argv is None else argv)])


if __name__ == "__main__":
    sys.exit(main())
