"""``rnnkit textgen train|sample``: the command-line face of the text-generation recipe.

The flags of ``train`` are generated from ``TextgenConfig`` and ``TrainConfig`` (defaults from
the recipe's ``TRAIN_DEFAULTS``), so every flag is a config field and a typo is an argparse
error.

    rnnkit textgen train                      # char LSTM on the bundled Shakespeare
    rnnkit textgen sample --checkpoint runs/textgen --prompt "ROMEO." --length 400
"""

from __future__ import annotations

import argparse

from ..tasks import textgen as textgen_recipe
from ..tasks.textgen import TRAIN_DEFAULTS, TextgenConfig
from .flags import HelpFormatter, add_backend, add_train_parser, select_backend

__all__ = ["add_parser"]


def add_parser(subparsers) -> None:
    """Add ``textgen`` with its ``train`` and ``sample`` subcommands to ``subparsers``."""
    about = "train a character or word language model and sample text from it"
    textgen = subparsers.add_parser("textgen", help=about, description=about)
    commands = textgen.add_subparsers(dest="textgen_command", required=True, metavar="COMMAND")
    about = "train a language model on a text file"
    add_train_parser(commands, about, TextgenConfig, TRAIN_DEFAULTS, textgen_recipe)
    about = "stream text from a trained model"
    sample = commands.add_parser(
        "sample", help=about, description=about, formatter_class=HelpFormatter
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
    add_backend(sample)
    sample.set_defaults(func=_sample)


def _sample(args: argparse.Namespace) -> int:
    select_backend(args.backend)
    from ..tasks.textgen import sample

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
