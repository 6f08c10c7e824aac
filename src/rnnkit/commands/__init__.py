"""CLI subcommand modules: each has ``add_parser(subparsers)``, ``run(args) -> int``, ``main``.

Wire one into the main CLI with ``diagnose.add_parser(subparsers)``; its parser sets
``func=run``, so the main CLI ends with ``sys.exit(args.func(args))``.
"""

from __future__ import annotations

import sys
from pathlib import Path

from ..atomic import write_json_atomic

__all__ = ["UsageError", "write_json_atomic"]


class UsageError(ValueError):
    """Bad command-line input: reported as one line on stderr, exit code 2."""


def common_arguments(p, out: str, out_help: str) -> None:
    """Add ``--threads`` and ``--out`` (default ``out``): the synthetic-task commands share them."""
    p.add_argument(
        "--threads", type=int, default=1, help="torch threads (1 is fastest for small models)"
    )
    p.add_argument("--out", type=Path, default=Path(out), help=out_help)


def fail(prog: str, message: str) -> int:
    """Print ``prog: error: message`` as one line on stderr; return exit code 2."""
    print(f"{prog}: error: {' '.join(str(message).split())}", file=sys.stderr)
    return 2
