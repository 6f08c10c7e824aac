"""The subcommands of ``rnnkit``, one module each, and what they share.

Every module here has a docstring (its ``--help`` description) and ``add_parser(subparsers)``,
which adds its parser and sets ``func=``: a handler that takes the parsed flags and returns the
exit status. Bad input raises ``rnnkit.errors.RnnkitError``; ``rnnkit.cli.main`` prints it as one
line and exits with status 2. Flags come from the recipes' config dataclasses through
``flags.py``; the recipes themselves (``rnnkit.tasks``) know nothing of argparse.
"""

from __future__ import annotations

from pathlib import Path

from ..atomic import write_json_atomic

__all__ = ["common_arguments", "write_json_atomic"]


def common_arguments(p, out: str, out_help: str) -> None:
    """Add ``--threads`` and ``--out`` (default ``out``): the synthetic-task commands share them."""
    p.add_argument(
        "--threads", type=int, default=1, help="torch threads (1 is fastest for small models)"
    )
    p.add_argument("--out", type=Path, default=Path(out), help=out_help)
