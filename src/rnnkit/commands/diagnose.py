"""``rnnkit diagnose``: gradient flow through time of each cell on the adding problem.

    python -m rnnkit.commands.diagnose --cells rnn,lstm,gru --T 200 --out docs
    rnnkit diagnose --cells rnn,lstm,gru --T 200 --train-steps 300   # once wired

For each cell: the adding-problem model (recurrent layer + Linear head, seeded), optionally
trained for ``--train-steps`` Adam steps, then :func:`rnnkit.diagnostics.gradient_flow` (in
float64) on one held-out batch with the adding-problem MSE at the last step as the loss. Writes
``{out}/gradient_flow.png`` and ``{out}/gradient_flow.json`` and prints, per cell, the ratio
‖dL/dh_1‖ / ‖dL/dh_T‖ and the spectral radii of W_hh's gate blocks.
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
from ..tasks.synthetic import CELLS, SynthConfig, adding_batch, build_model, fit
from ..train.config import add_arguments
from . import common_arguments, fail, write_json_atomic

__all__ = ["add_parser", "main", "register", "run"]

PROG = "rnnkit diagnose"


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


def configure(p: argparse.ArgumentParser) -> argparse.ArgumentParser:
    """Add diagnose's arguments to ``p`` (the adding problem's flags from :class:`SynthConfig`)."""
    p.add_argument(
        "--cells", default="rnn,lstm,gru", help=f"comma-separated, from: {', '.join(CELLS)}"
    )
    p.add_argument("--train-steps", type=int, default=0, help="Adam steps before measuring")
    add_arguments(p, _DEFAULTS, skip=_SKIP)
    common_arguments(p, "runs/diagnose", "folder for PNG+JSON")
    p.set_defaults(func=run)
    return p


def add_parser(subparsers) -> argparse.ArgumentParser:
    """Add the ``diagnose`` subcommand to an argparse ``subparsers`` object."""
    p = subparsers.add_parser(
        "diagnose",
        help="gradient flow through time per cell (adding problem)",
        description=__doc__.splitlines()[0],
    )
    return configure(p)


register = add_parser  # the name rnnkit.cli's COMMANDS table calls


def _check(args: argparse.Namespace) -> list[str]:
    """The cell names; ValueError with a one-line message for bad input."""
    cells = [c.strip() for c in args.cells.split(",") if c.strip()]
    if not cells:
        raise ValueError(f"expected --cells as a comma-separated list; got {args.cells!r}")
    unknown = [c for c in cells if c not in CELLS]
    if unknown:
        raise ValueError(f"unknown cell {unknown[0]!r}; expected one of {', '.join(CELLS)}")
    if args.train_steps < 0:
        raise ValueError(f"expected --train-steps >= 0, got {args.train_steps}")
    _config(args, cells[0])  # T, hidden, batch size and lr as SynthConfig checks them
    return cells


def _config(args: argparse.Namespace, cell: str) -> SynthConfig:
    """The adding-problem training run of ``cell`` that ``--train-steps`` asks for."""
    steps = max(1, args.train_steps)
    kept = {name: getattr(args, name) for name in ("T", "hidden", "batch_size", "lr", "seed")}
    return SynthConfig("adding", cell, steps=steps, eval_every=steps, **kept)


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
    """Measure every cell, write PNG + JSON, print the table; 0, or 2 for bad input."""
    try:
        cells = _check(args)
    except ValueError as err:
        return fail(PROG, err)
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
    """``python -m rnnkit.commands.diagnose [options]``."""
    args = configure(argparse.ArgumentParser(prog=PROG)).parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
