"""``rnnkit synth TASK``: train one cell on a synthetic long-range task, print progress, write JSON.

    rnnkit synth adding --cell lstm --T 100 --steps 2000
    rnnkit synth copy --cell gru --T 100 --steps 2000 --out runs/synth
    python -m rnnkit.commands.synth adding --cell lstm     # the same, without the rnnkit script

One subcommand per task of ``rnnkit.tasks.synthetic.TASKS``, its flags generated from
``SynthConfig``. Writes ``{out}/synth_{task}_{cell}_T{T}_seed{seed}.json`` (see
``rnnkit.tasks.synthetic.train_synthetic`` for its fields).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

import torch

from ..tasks.synthetic import TASKS, SynthConfig, build_model, fit
from . import common_arguments, write_json_atomic
from .flags import HelpFormatter, add_arguments, from_args

__all__ = ["ABOUT", "T_HELP", "add_parser", "config_from_args", "main", "run"]

ABOUT = {  # task -> what its --help says it is
    "adding": "the adding problem: the sum of the two marked values of a sequence of T, read at "
    "its last step (solved: held-out MSE < 0.01; predicting 1.0 scores 1/6)",
    "copy": "copy memory: 10 symbols, T - 1 blanks and a delimiter, then the model must repeat "
    "the symbols (solved: accuracy >= 0.99 on them; guessing scores 1/8)",
}
T_HELP = {  # task -> what --T means for it
    "adding": "sequence length: steps between the first input and the answer",
    "copy": "the gap: blank steps between the symbols and their copy (sequences are T + 20 long)",
}


def add_parser(subparsers) -> None:
    """Add ``synth`` with one subcommand per synthetic task to ``subparsers``."""
    about = "train a cell on a synthetic long-range task (adding problem, copy memory)"
    synth = subparsers.add_parser(
        "synth", help=about, description=about, formatter_class=HelpFormatter
    )
    tasks = synth.add_subparsers(dest="task", required=True, metavar="TASK")
    for name in TASKS:
        about = ABOUT.get(name, f"the synthetic task {name!r}")
        p = tasks.add_parser(name, help=about, description=about, formatter_class=HelpFormatter)
        helps = {"T": T_HELP[name]} if name in T_HELP else None
        add_arguments(p, SynthConfig(task=name), skip=("task",), helps=helps)
        common_arguments(p, "runs/synth", "folder for the JSON")
        p.set_defaults(func=run)


def config_from_args(args: argparse.Namespace) -> SynthConfig:
    """The run's config; ``RnnkitError`` (one line) for a bad cell, T or budget."""
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
    """Train, print progress and the result, write the JSON; 0 (bad input raises RnnkitError)."""
    cfg = config_from_args(args)
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
    """``python -m rnnkit.commands.synth TASK [options]``: ``rnnkit synth`` itself."""
    from ..cli import main as rnnkit_main

    return rnnkit_main(["synth", *(sys.argv[1:] if argv is None else argv)])


if __name__ == "__main__":
    sys.exit(main())
