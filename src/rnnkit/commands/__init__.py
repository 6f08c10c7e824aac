"""CLI subcommand modules: each has ``add_parser(subparsers)``, ``run(args) -> int``, ``main``.

Wire one into the main CLI with ``diagnose.add_parser(subparsers)``; its parser sets
``func=run``, so the main CLI ends with ``sys.exit(args.func(args))``.
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
from pathlib import Path

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


def write_json_atomic(path: str | os.PathLike, obj: object) -> Path:
    """Write ``obj`` as indented JSON via a temporary file and ``os.replace``."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w") as f:
            json.dump(obj, f, indent=1)
            f.write("\n")
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)  # mkstemp makes 0600; give the file the usual mode
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path
