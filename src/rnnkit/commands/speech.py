"""``rnnkit speech train|predict|evaluate``: the command-line face of the CTC speech recipe.

The flags of ``train`` are generated from ``SpeechConfig`` and ``TrainConfig`` (defaults from
the recipe's ``TRAIN_DEFAULTS``), so every flag is a config field and a typo is an argparse
error.

    rnnkit speech train --data free-spoken-digit-dataset/recordings
    rnnkit speech predict --checkpoint runs/speech a.wav b.wav --beam-size 8
    rnnkit speech predict --checkpoint runs/speech-uni --stream --chunk-ms 100 a.wav
    rnnkit speech evaluate --checkpoint runs/speech --data free-spoken-digit-dataset/recordings
"""

from __future__ import annotations

import argparse

from ..tasks import speech as speech_recipe
from ..tasks.speech import TRAIN_DEFAULTS, SpeechConfig
from .flags import HelpFormatter, add_backend, add_train_parser, select_backend

__all__ = ["add_parser"]


def _subcommand(commands, name: str, about: str) -> argparse.ArgumentParser:
    parser = commands.add_parser(name, help=about, description=about, formatter_class=HelpFormatter)
    parser.add_argument("--checkpoint", required=True, help="run directory or .pt file")
    parser.add_argument(
        "--beam-size", type=int, default=1, help="1: greedy; K > 1: CTC prefix beam search"
    )
    add_backend(parser)
    return parser


def add_parser(subparsers) -> None:
    """Add ``speech`` with its ``train``, ``predict`` and ``evaluate`` subcommands."""
    about = "train a CTC speech recognizer (spoken digits) and transcribe audio with it"
    speech = subparsers.add_parser("speech", help=about, description=about)
    commands = speech.add_subparsers(dest="speech_command", required=True, metavar="COMMAND")
    about = "train a recognizer on a directory of WAV files"
    add_train_parser(commands, about, SpeechConfig, TRAIN_DEFAULTS, speech_recipe)
    predict = _subcommand(commands, "predict", "print the transcript of each WAV file")
    predict.add_argument("wavs", nargs="*", metavar="WAV", help="mono WAV files")
    predict.add_argument(
        "--stream", action="store_true",
        help="feed the audio in chunks, printing the transcript as it grows (a unidirectional "
        "model trained with --normalize global)",
    )  # fmt: skip
    predict.add_argument("--chunk-ms", type=float, default=100.0, help="--stream chunk length")
    predict.set_defaults(func=_predict)
    evaluate = _subcommand(commands, "evaluate", "error rates of a recognizer on WAV files")
    evaluate.add_argument("--data", required=True, help="directory of WAV files (required)")
    evaluate.add_argument(
        "--transcripts", default=None, help="CSV path,text; default: FSDD file names"
    )
    evaluate.add_argument(
        "--subset", default="test", choices=("test", "all"),
        help="the test split of the run that trained the checkpoint, or every file",
    )  # fmt: skip
    evaluate.add_argument(
        "--join", type=int, default=None, help="utterances of 1..JOIN; default: as trained"
    )
    evaluate.add_argument("--report", default=None, help="also write the report to this JSON file")
    evaluate.set_defaults(func=_evaluate)


def _predict(args: argparse.Namespace) -> int:
    select_backend(args.backend)
    speech_recipe.predict(args.checkpoint, args.wavs, args.beam_size, args.stream, args.chunk_ms)
    return 0


def _evaluate(args: argparse.Namespace) -> int:
    select_backend(args.backend)
    speech_recipe.evaluate(
        args.checkpoint, args.data, args.transcripts, args.subset, args.beam_size, args.join,
        args.report,
    )  # fmt: skip
    return 0
