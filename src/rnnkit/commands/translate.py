"""``rnnkit translate train|predict|evaluate``: the command-line face of the
sequence-to-sequence recipe.

The flags of ``train`` are generated from ``TranslateConfig`` and ``TrainConfig`` (defaults
from the recipe's ``TRAIN_DEFAULTS``), so every flag is a config field and a typo is an
argparse error.

    rnnkit translate train                    # grapheme-to-phoneme on the bundled CMUdict
    rnnkit translate train --data pairs.tsv --source-level word --target-level word
    rnnkit translate predict --checkpoint runs/translate rnnkit phoneme --beam-size 5
    rnnkit translate evaluate --checkpoint runs/translate --data held_out.tsv
"""

from __future__ import annotations

import argparse

from ..tasks import translate as translate_recipe
from ..tasks.translate import TRAIN_DEFAULTS, TranslateConfig
from .flags import HelpFormatter, add_backend, add_train_parser, select_backend

__all__ = ["add_parser"]


def add_parser(subparsers) -> None:
    """Add ``translate`` with its ``train``, ``predict`` and ``evaluate`` subcommands."""
    about = "train an attentive encoder-decoder (default: grapheme-to-phoneme) and use it"
    translate = subparsers.add_parser("translate", help=about, description=about)
    commands = translate.add_subparsers(dest="translate_command", required=True, metavar="COMMAND")
    about = "train an encoder-decoder on source/target pairs"
    add_train_parser(commands, about, TranslateConfig, TRAIN_DEFAULTS, translate_recipe)
    about = "print the output (or the n best, with scores) for each source text"
    predict = commands.add_parser(
        "predict", help=about, description=about, formatter_class=HelpFormatter
    )
    predict.add_argument("--checkpoint", required=True, help="run directory or .pt file")
    predict.add_argument("texts", nargs="*", metavar="TEXT", help="source texts")
    predict.add_argument(
        "--input", default=None, help="file of sources: .tsv/.csv/.jsonl (the training "
        "--source-column) or one per line"
    )  # fmt: skip
    _decoding(predict)
    predict.add_argument("--n-best", type=int, default=1, help="outputs per source (<= beam)")
    predict.set_defaults(func=_predict)
    about = "score a trained model on a pairs file: WER, PER (and BLEU, chrF for words)"
    evaluate = commands.add_parser(
        "evaluate", help=about, description=about, formatter_class=HelpFormatter
    )
    evaluate.add_argument("--checkpoint", required=True, help="run directory or .pt file")
    evaluate.add_argument(
        "--data", default=None,
        help="pairs file, columns as in training; default: the training run's own test split",
    )  # fmt: skip
    evaluate.add_argument("--beam-size", type=int, default=5, help="beam (1 = greedy only)")
    evaluate.add_argument("--json", default=None, help="also write the metrics to this file")
    add_backend(evaluate)
    evaluate.set_defaults(func=_evaluate)


def _decoding(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--beam-size", type=int, default=5, help="beam width (1 = greedy)")
    parser.add_argument(
        "--max-length", type=int, default=None,
        help="most output tokens; default: the training run's (2 x source tokens + 10)",
    )  # fmt: skip
    add_backend(parser)


def _predict(args: argparse.Namespace) -> int:
    select_backend(args.backend)
    from ..tasks.translate import predict

    predict(args.checkpoint, args.texts, args.input, args.beam_size, args.n_best,
            args.max_length)  # fmt: skip
    return 0


def _evaluate(args: argparse.Namespace) -> int:
    select_backend(args.backend)
    from ..tasks.translate import evaluate

    evaluate(args.checkpoint, args.data, args.beam_size, args.json)
    return 0
