"""Error rates of transcripts: edit distance, symbol and word error rate, isolated accuracy.

``edit_distance`` is the Levenshtein distance (substitutions, deletions, insertions, each 1).
An error rate is the sum of the edit distances over the sum of the reference lengths (not the
mean of per-utterance rates), the field's convention: SER on symbols, WER on words. Isolated
accuracy is the share of utterances whose whole hypothesis equals the reference.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

__all__ = ["confusion", "edit_distance", "error_rate", "isolated_accuracy"]


def edit_distance(ref: Sequence, hyp: Sequence) -> int:
    """The fewest substitutions, deletions and insertions that turn ``ref`` into ``hyp``."""
    row = list(range(len(hyp) + 1))  # distances from ref[:0] to every prefix of hyp
    for i, r in enumerate(ref, start=1):
        prev_diag, row[0] = row[0], i
        for j, h in enumerate(hyp, start=1):
            prev_diag, row[j] = (
                row[j],
                min(
                    row[j] + 1,  # delete r
                    row[j - 1] + 1,  # insert h
                    prev_diag + (r != h),  # substitute (free when equal)
                ),
            )
    return row[-1]


def error_rate(refs: Sequence[Sequence], hyps: Sequence[Sequence], units: Callable = list) -> float:
    """Sum of edit distances over sum of reference lengths, on ``units(x)`` of each
    transcript (e.g. its words); 0 for empty references."""
    edits = sum(edit_distance(units(r), units(h)) for r, h in zip(refs, hyps))
    total = sum(len(units(r)) for r in refs)
    return edits / total if total else 0.0


def isolated_accuracy(refs: Sequence[Sequence], hyps: Sequence[Sequence]) -> float:
    """Share of utterances whose hypothesis equals the reference exactly."""
    if not refs:
        return 0.0
    return sum(tuple(r) == tuple(h) for r, h in zip(refs, hyps)) / len(refs)


def confusion(refs: Sequence[Sequence[int]], hyps: Sequence[Sequence[int]], k: int) -> np.ndarray:
    """(k + 1, k + 1) counts for one-symbol references (ids 1..k): row = reference symbol,
    column = the hypothesis's symbol when it is one symbol, else the last column ("other");
    row and column 0 of the ids are dropped, so index i is symbol i + 1."""
    cm = np.zeros((k + 1, k + 1), dtype=np.int64)
    for r, h in zip(refs, hyps):
        column = h[0] - 1 if len(h) == 1 else k
        cm[r[0] - 1, column] += 1
    return cm
