"""``rnnkit classify train|predict``: the command-line face of the text-classification task.

The flags of ``train`` are generated from ``ClassifyConfig`` and ``TrainConfig`` (defaults from
``TRAIN_DEFAULTS``), so every flag is a config field and a typo is an argparse error.

    rnnkit classify train                     # GRU on the bundled movie-review polarity data
    rnnkit classify train --data reviews.csv --text-column review --label-column sentiment
    rnnkit classify predict --checkpoint runs/classify "A gorgeous, witty film."
"""

from __future__ import annotations

import argparse

from ...train import TrainConfig, add_arguments, from_args
from .config import TRAIN_DEFAULTS, ClassifyConfig

__all__ = ["register"]


def register(subparsers) -> None:
    """Add ``classify`` with its ``train`` and ``predict`` subcommands to ``subparsers``."""
    classify = subparsers.add_parser(
        "classify", help="train a recurrent text classifier and label texts with it"
    )
    commands = classify.add_subparsers(dest="classify_command", required=True, metavar="COMMAND")
    train = commands.add_parser("train", help="train a classifier on labelled texts")
    add_arguments(train, ClassifyConfig())
    add_arguments(train, TRAIN_DEFAULTS)
    # --epochs has a default, yet --steps alone must work: the default applies when neither
    # is given (_train), and both given is the Trainer's error
    train.set_defaults(func=_train, epochs=None)
    fmt = argparse.ArgumentDefaultsHelpFormatter
    predict = commands.add_parser(
        "predict", help="print the label and its probability for each text", formatter_class=fmt
    )
    predict.add_argument("--checkpoint", required=True, help="run directory or .pt file")
    predict.add_argument("texts", nargs="*", metavar="TEXT", help="texts to classify")
    predict.add_argument(
        "--input", default=None, help="file of texts: .csv/.jsonl (--text-column) or one per line"
    )
    predict.add_argument(
        "--text-column", default=None, help="column of --input's texts; default: the training one"
    )
    predict.add_argument("--backend", default="auto", help="rnnkit scan backend (rnnkit.BACKENDS)")
    predict.set_defaults(func=_predict)


def _train(args: argparse.Namespace) -> int:
    from .run import train

    if args.steps is None and args.epochs is None:
        args.epochs = TRAIN_DEFAULTS.epochs
    train(from_args(ClassifyConfig, args), from_args(TrainConfig, args))
    return 0


def _predict(args: argparse.Namespace) -> int:
    from ...train.recipe import select_backend
    from .predict import predict

    select_backend(args.backend)
    predict(args.checkpoint, args.texts, args.input, args.text_column)
    return 0
