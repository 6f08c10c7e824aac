"""``rnnkit tag train|predict|evaluate``: the command-line face of the sequence-labelling recipe.

The flags of ``train`` are generated from ``TagConfig`` and ``TrainConfig`` (defaults from the
recipe's ``TRAIN_DEFAULTS``), so every flag is a config field and a typo is an argparse error.

    rnnkit tag train                                  # People's Daily NER, characters, BiLSTM-CRF
    rnnkit tag train --task segment                   # the same corpus: word segmentation
    rnnkit tag train --data en_ewt-ud-train.conllu --val-data en_ewt-ud-dev.conllu \\
        --test-data en_ewt-ud-test.conllu --lower --char-hidden 100 --rare-dropout 0.25 \\
        --epochs 30                                   # UPOS tags of a UD treebank (95.4%)
    rnnkit tag predict --checkpoint runs/tag "中共中央总书记江泽民发表讲话"
    rnnkit tag evaluate --checkpoint runs/tag --data test.conllu
"""

from __future__ import annotations

import argparse

from ..tasks import tag as tag_recipe
from ..tasks.tag import TRAIN_DEFAULTS, TagConfig
from .flags import HelpFormatter, add_backend, add_train_parser, select_backend

__all__ = ["add_parser"]


def add_parser(subparsers) -> None:
    """Add ``tag`` with its ``train``, ``predict`` and ``evaluate`` subcommands."""
    about = "train a sequence tagger (entities, parts of speech, word segmentation) and use it"
    tag = subparsers.add_parser("tag", help=about, description=about)
    commands = tag.add_subparsers(dest="tag_command", required=True, metavar="COMMAND")
    about = "train a BiLSTM-CRF tagger on tagged sentences (default: People's Daily NER)"
    add_train_parser(commands, about, TagConfig, TRAIN_DEFAULTS, tag_recipe)
    about = "tag texts: one line per token (conll) or one JSON object per text (json)"
    predict = commands.add_parser(
        "predict", help=about, description=about, formatter_class=HelpFormatter
    )
    predict.add_argument("--checkpoint", required=True, help="run directory or .pt file")
    predict.add_argument("texts", nargs="*", metavar="TEXT", help="texts to tag")
    predict.add_argument("--input", default=None, help="file of texts, one per line")
    predict.add_argument(
        "--output-format", default="conll", choices=("conll", "json"),
        help="conll: token<TAB>tag lines, a blank line between texts; json: one object per "
        "text with tokens, tags and entity / word spans with character offsets",
    )  # fmt: skip
    add_backend(predict)
    predict.set_defaults(func=_predict)
    about = "score a trained tagger on tagged sentences (default: its run's test split)"
    evaluate = commands.add_parser(
        "evaluate", help=about, description=about, formatter_class=HelpFormatter
    )
    evaluate.add_argument("--checkpoint", required=True, help="run directory or .pt file")
    evaluate.add_argument("--data", default=None, help="tagged sentences; default: the test "
                          "split of the run's own data")  # fmt: skip
    evaluate.add_argument("--format", default=None, choices=tag_recipe.FORMATS,
                          help="format of --data; default: from the suffix or the first "
                          "sentence")  # fmt: skip
    evaluate.add_argument("--tag-column", default=None, help="column of the tags; default: "
                          "the training run's")  # fmt: skip
    evaluate.add_argument("--json", default=None, help="also write the report to this file")
    add_backend(evaluate)
    evaluate.set_defaults(func=_evaluate)


def _predict(args: argparse.Namespace) -> int:
    select_backend(args.backend)
    from ..tasks.tag.predict import predict

    predict(args.checkpoint, args.texts, args.input, args.output_format)
    return 0


def _evaluate(args: argparse.Namespace) -> int:
    select_backend(args.backend)
    from ..tasks.tag.predict import evaluate

    evaluate(args.checkpoint, args.data, args.format, args.tag_column, args.json)
    return 0
