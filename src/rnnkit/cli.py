"""The ``rnnkit`` command: one subcommand per application, each in its own module.

    rnnkit textgen train [--data FILE.txt] [--steps N] ...
    rnnkit textgen sample --checkpoint runs/textgen --prompt "ROMEO."

A command module exposes ``register(subparsers)``, which adds its parser and sets ``func`` (the
handler, returning an exit status). Bad input raises ``RnnkitError``: ``main`` prints it as one
line on stderr and returns 2, without a traceback.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

from . import __version__
from .errors import RnnkitError

__all__ = ["COMMANDS", "build_parser", "main"]

COMMANDS = {  # command name -> module with register(subparsers)
    "textgen": "rnnkit.tasks.textgen.cli",
    "forecast": "rnnkit.tasks.forecast.cli",
    "classify": "rnnkit.tasks.classify.cli",
    "synth": "rnnkit.commands.synth",
    "diagnose": "rnnkit.commands.diagnose",
}


def build_parser() -> argparse.ArgumentParser:
    """The parser of every command in ``COMMANDS``."""
    parser = argparse.ArgumentParser(
        prog="rnnkit", description="Recurrent neural networks: train and use models."
    )
    parser.add_argument("--version", action="version", version=f"rnnkit {__version__}")
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for module in COMMANDS.values():
        importlib.import_module(module).register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line ``argv`` (default: ``sys.argv[1:]``); returns the exit status."""
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except RnnkitError as exc:
        print(f"rnnkit: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("rnnkit: interrupted", file=sys.stderr)
        return 130
