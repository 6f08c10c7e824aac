"""The ``rnnkit`` command: one subcommand per module of ``rnnkit.commands``.

    rnnkit textgen train [--data FILE.txt] [--steps N] ...
    rnnkit textgen sample --checkpoint runs/textgen --prompt "ROMEO."

Every command module has ``add_parser(subparsers)``, which adds its parser and sets ``func``
(the handler, returning an exit status). Bad input raises ``rnnkit.errors.RnnkitError``:
``main`` prints it as one line, ``rnnkit: error: ...``, on stderr and returns 2, without a
traceback.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from . import __version__
from .commands import (
    build,
    classify,
    diagnose,
    export,
    forecast,
    plan,
    speech,
    synth,
    tag,
    textgen,
    translate,
)
from .errors import RnnkitError

__all__ = ["COMMANDS", "build_parser", "main"]

# in the order --help lists them
COMMANDS = (
    textgen, forecast, classify, tag, translate, speech, synth, diagnose, export, plan, build
)  # fmt: skip


def build_parser() -> argparse.ArgumentParser:
    """The parser of every command in ``COMMANDS``."""
    parser = argparse.ArgumentParser(
        prog="rnnkit", description="Recurrent neural networks: train and use models."
    )
    parser.add_argument("--version", action="version", version=f"rnnkit {__version__}")
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for command in COMMANDS:
        command.add_parser(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line ``argv`` (default: ``sys.argv[1:]``); returns the exit status."""
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except RnnkitError as exc:
        print(f"rnnkit: error: {' '.join(str(exc).split())}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("rnnkit: interrupted", file=sys.stderr)
        return 130
