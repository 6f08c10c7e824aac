"""``rnnkit classify train|predict``: the command-line face of the text-classification recipe.

The flags of ``train`` are generated from ``ClassifyConfig`` and ``TrainConfig`` (defaults from
the recipe's ``TRAIN_DEFAULTS``), so every flag is a config field and a typo is an argparse
error.

    rnnkit classify train                     # GRU on the bundled movie-review polarity data
    rnnkit classify train --data reviews.csv --text-column review --label-column sentiment
    rnnkit classify train --data dna.csv --level char   # every character a token
    rnnkit classify predict --checkpoint runs/classify "A gorgeous, witty film."
"""

from __future__ import annotations

import argparse

from ..tasks import classify as classify_recipe
from ..tasks.classify import TRAIN_DEFAULTS, ClassifyConfig
from .flags import HelpFormatter, add_backend, add_train_parser, select_backend

__all__ = ["add_parser"]


def add_parser(subparsers) -> None:
    """Add ``classify`` with its ``train`` and ``predict`` subcommands to ``subparsers``."""
    about = "train a recurrent text classifier and label texts with it"
    classify = subparsers.add_parser("classify", help=about, description=about)
    commands = classify.add_subparsers(dest="classify_command", required=True, metavar="COMMAND")
    about = "train a classifier on labelled texts"
    add_train_parser(commands, about, ClassifyConfig, TRAIN_DEFAULTS, classify_recipe)
    about = "print the label and its probability for each text"
    predict = commands.add_parser(
        "predict", help=about, description=about, formatter_class=HelpFormatter
    )
    predict.add_argument("--checkpoint", required=True, help="run directory or .pt file")
    predict.add_argument("texts", nargs="*", metavar="TEXT", help="texts to classify")
    predict.add_argument(
        "--input", default=None, help="file of texts: .csv/.jsonl (--text-column) or one per line"
    )
    predict.add_argument(
        "--text-column", default=None, help="column of --input's texts; default: the training one"
    )
    add_backend(predict)
    predict.set_defaults(func=_predict)


def _predict(args: argparse.Namespace) -> int:
    select_backend(args.backend)
    from ..tasks.classify import predict

    predict(args.checkpoint, args.texts, args.input, args.text_column)
    return 0
