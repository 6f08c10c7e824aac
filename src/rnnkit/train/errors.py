"""Errors that mean "the input was wrong", as opposed to a bug.

The CLI catches :class:`RnnkitError`, prints its message as one line on stderr and exits with
status 2, without a traceback. Library users catch it like any exception.
"""

from __future__ import annotations

__all__ = ["CheckpointError", "RnnkitError"]


class RnnkitError(Exception):
    """Bad input from the user: a missing file, a wrong option, an incompatible checkpoint."""


class CheckpointError(RnnkitError):
    """A checkpoint file that is missing, corrupt, truncated, foreign or incompatible."""
