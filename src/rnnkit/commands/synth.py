"""``rnnkit synth``: train one cell on a synthetic long-range task, print progress, write JSON.

    python -m rnnkit.commands.synth adding --cell lstm --T 100 --steps 2000
    rnnkit synth copy --cell gru --T 100 --steps 2000 --out runs/synth   # once wired

Writes ``{out}/synth_{task}_{cell}_T{T}_seed{seed}.json`` (see
:func:`rnnkit.tasks.synthetic.train_synthetic` for its fields).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

import torch

from ..tasks.synthetic import TASKS, SynthConfig, build_model, fit
from ..train.config import add_arguments, from_args
from . import common_arguments, fail, write_json_atomic

__all__ = ["add_parser", "main", "register", "run"]

PROG = "rnnkit synth"
_DEFAULTS = SynthConfig()


def configure(p: argparse.ArgumentParser) -> argparse.ArgumentParser:
    """Add synth's arguments to ``p``: one flag per :class:`SynthConfig` field, its defaults."""
    p.add_argument("task", help=f"one of: {', '.join(TASKS)}")
    add_arguments(p, SynthConfig(), skip=("task",))
    common_arguments(p, "runs/synth", "folder for the JSON")
    p.set_defaults(func=run)
    return p


def add_parser(subparsers) -> argparse.ArgumentParser:
    """Add the ``synth`` subcommand to an argparse ``subparsers`` object."""
    p = subparsers.add_parser(
        "synth",
        help="train a cell on the adding or copy-memory task",
        description=__doc__.splitlines()[0],
    )
    return configure(p)


register = add_parser  # the name rnnkit.cli's COMMANDS table calls


def config_from_args(args: argparse.Namespace) -> SynthConfig:
    """The run's config; ValueError (one line) for a bad task, cell, T or budget."""
    return from_args(SynthConfig, args)


def _progress(metric: str):
    def log(r: dict) -> None:
        print(
            f"step {r['step']:6d}  train loss {r['train_loss']:.4f}  held-out {metric} "
            f"{r[metric]:.4f}  ({r['seconds']:.0f} s)",
            flush=True,
        )

    return log


def run(args: argparse.Namespace) -> int:
    """Train, print progress and the result, write the JSON; 0, or 2 for bad input."""
    try:
        cfg = config_from_args(args)
    except ValueError as err:
        return fail(PROG, err)
    torch.set_num_threads(max(1, args.threads))
    spec = TASKS[cfg.task]
    print(f"{cfg.task} T={cfg.T} cell={cfg.cell}: {cfg}", flush=True)
    result = fit(
        build_model(cfg.task, cfg.cell, cfg.hidden, cfg.seed, cfg.forget_bias, cfg.chrono),
        cfg,
        _progress(spec.metric),
    )
    path = write_json_atomic(
        args.out / f"synth_{cfg.task}_{cfg.cell}_T{cfg.T}_seed{cfg.seed}.json", result
    )
    solved = result["steps_to_solve"]
    print(
        f"{cfg.task} {cfg.cell} T={cfg.T}: "
        + (f"solved at step {solved}" if solved else f"not solved in {cfg.steps} steps")
        + f"; final {spec.metric} {result['final'][spec.metric]:.4f} "
        f"(baseline {result['baseline'][spec.metric]:.4f}); {result['seconds']:.0f} s; {path}"
    )
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m rnnkit.commands.synth TASK [options]``."""
    args = configure(argparse.ArgumentParser(prog=PROG)).parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
