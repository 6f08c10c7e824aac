"""``rnnkit textgen train|sample``: the command-line face of the text-generation task.

The flags of ``train`` are generated from ``TextgenConfig`` and ``TrainConfig`` (defaults from
``TRAIN_DEFAULTS``), so every flag is a config field and a typo is an argparse error.

    rnnkit textgen train                      # char LSTM on the bundled Shakespeare
    rnnkit textgen sample --checkpoint runs/textgen --prompt "ROMEO." --length 400
"""

from __future__ import annotations

import argparse

from ...train import TrainConfig, add_arguments, from_args
from .config import TRAIN_DEFAULTS, TextgenConfig

__all__ = ["register"]


def register(subparsers) -> None:
    """Add ``textgen`` with its ``train`` and ``sample`` subcommands to ``subparsers``."""
    textgen = subparsers.add_parser(
        "textgen", help="train a character or word language model and sample text from it"
    )
    commands = textgen.add_subparsers(dest="textgen_command", required=True, metavar="COMMAND")
    fmt = argparse.ArgumentDefaultsHelpFormatter
    train = commands.add_parser("train", help="train a language model on a text file")
    add_arguments(train, TextgenConfig())
    add_arguments(train, TRAIN_DEFAULTS)
    train.set_defaults(func=_train)
    sample = commands.add_parser(
        "sample", help="stream text from a trained model", formatter_class=fmt
    )
    sample.add_argument("--checkpoint", required=True, help="run directory or .pt file")
    sample.add_argument("--prompt", default="", help="text to start from")
    sample.add_argument("--length", type=int, default=500, help="tokens to generate")
    sample.add_argument("--temperature", type=float, default=0.8, help="0 = always the likeliest")
    sample.add_argument(
        "--top-k", type=int, default=0, help="sample among the k likeliest; 0 = all"
    )
    sample.add_argument(
        "--top-p", type=float, default=1.0, help="nucleus: smallest set of this mass"
    )
    sample.add_argument("--seed", type=int, default=None, help="seed for reproducible samples")
    sample.add_argument("--backend", default="auto", help="rnnkit scan backend (rnnkit.BACKENDS)")
    sample.set_defaults(func=_sample)


def _train(args: argparse.Namespace) -> int:
    from .run import train

    train(from_args(TextgenConfig, args), from_args(TrainConfig, args))
    return 0


def _sample(args: argparse.Namespace) -> int:
    from ...train.recipe import select_backend
    from .run import sample

    select_backend(args.backend)
    sample(
        args.checkpoint,
        args.prompt,
        args.length,
        args.temperature,
        args.top_k,
        args.top_p,
        args.seed,
    )
    return 0
