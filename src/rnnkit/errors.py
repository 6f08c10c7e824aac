"""The one error type for user mistakes, at the package root: every layer of rnnkit raises it.

``RnnkitError`` means "the input was wrong", as opposed to a bug. It subclasses ``ValueError``,
so code written against torch.nn's ``ValueError`` for bad options keeps catching it; the
``rnnkit`` command prints it as one line on stderr and exits with status 2, without a
traceback. Data, layers, training, recipes and commands all import it from here (nothing
below the package root depends on the trainer for it).
"""

from __future__ import annotations

__all__ = ["CheckpointError", "RnnkitError"]


class RnnkitError(ValueError):
    """Bad input from the user: a missing file, a wrong option, an incompatible checkpoint."""


class CheckpointError(RnnkitError):
    """A checkpoint file that is missing, corrupt, truncated, foreign or incompatible."""
