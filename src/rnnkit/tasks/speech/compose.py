"""Connected utterances: recordings of one speaker joined with short random silences.

``join_audio`` puts a silence of a random length in [``silence_min``, ``silence_max``] samples
before, between and after the recordings; the transcript is the recordings' symbols in order
(with a space between words where the alphabet has one). Training draws fresh utterances for
every step: ``StepUtterances.batch(step)`` is a pure function of (seed, step) (a checkpoint's
data position is its step, so resume is exact): a speaker, then 1..``join`` of that speaker's
training recordings. Evaluation uses fixed utterances: ``group_utterances`` shuffles each
speaker's recordings (seeded) and cuts them into runs of 1..``join``, so every held-out
recording is heard exactly once.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from .data import Recording

__all__ = ["StepUtterances", "Utterance", "group_utterances", "join_audio"]


@dataclass
class Utterance:
    """Audio with its transcript as symbol ids, and the recordings it was made of."""

    audio: np.ndarray  # (N,) float32
    symbols: tuple[int, ...]
    parts: tuple[int, ...]  # indices of the recordings joined


def join_audio(
    recordings: Sequence[Recording],
    rng: np.random.Generator,
    silence: tuple[int, int],
    space: int | None = None,
) -> tuple[np.ndarray, tuple[int, ...]]:
    """(audio, symbols) of ``recordings`` with random silences (samples in [lo, hi]) around
    and between them; words separated by the symbol ``space`` where it is not None."""
    lo, hi = silence
    gaps = rng.integers(lo, hi + 1, size=len(recordings) + 1)
    pieces, symbols = [np.zeros(gaps[0], np.float32)], []
    for k, (r, gap) in enumerate(zip(recordings, gaps[1:])):
        pieces += [r.audio, np.zeros(gap, np.float32)]
        if space is not None and k:
            symbols.append(space)
        symbols.extend(r.symbols)
    return np.concatenate(pieces), tuple(symbols)


def _by_speaker(recordings: Sequence[Recording], index: Sequence[int]) -> dict[str, list[int]]:
    groups: dict[str, list[int]] = {}
    for i in index:
        groups.setdefault(recordings[i].speaker, []).append(int(i))
    return groups


def group_utterances(
    recordings: Sequence[Recording],
    index: Sequence[int],
    join: int,
    silence: tuple[int, int],
    seed: int,
    space: int | None = None,
) -> list[Utterance]:
    """Every recording of ``index`` exactly once, in utterances of 1..``join`` recordings of
    one speaker (seeded; ``join`` 1 gives each recording alone, with its silences)."""
    rng = np.random.default_rng([seed, 23])
    out = []
    for _, members in sorted(_by_speaker(recordings, index).items()):
        order = [members[i] for i in rng.permutation(len(members))]
        while order:
            n = int(rng.integers(1, join + 1))
            parts, order = order[:n], order[n:]
            audio, symbols = join_audio([recordings[i] for i in parts], rng, silence, space)
            out.append(Utterance(audio, symbols, tuple(parts)))
    return out


class StepUtterances:
    """The training utterances of each step (see the module docstring)."""

    def __init__(
        self,
        recordings: Sequence[Recording],
        index: Sequence[int],
        join: int,
        silence: tuple[int, int],
        seed: int,
        space: int | None = None,
    ) -> None:
        self.recordings, self.join, self.silence = recordings, join, silence
        self.seed, self.space = seed, space
        groups = _by_speaker(recordings, index)
        self.speakers = [np.array(groups[s]) for s in sorted(groups)]

    def utterance(self, rng: np.random.Generator) -> Utterance:
        """One utterance: a speaker, then 1..join of their recordings, drawn from ``rng``."""
        members = self.speakers[int(rng.integers(len(self.speakers)))]
        parts = members[rng.integers(len(members), size=int(rng.integers(1, self.join + 1)))]
        recs = [self.recordings[i] for i in parts]
        audio, symbols = join_audio(recs, rng, self.silence, self.space)
        return Utterance(audio, symbols, tuple(int(i) for i in parts))

    def batch(self, step: int, size: int) -> list[Utterance]:
        """The ``size`` utterances of global step ``step``."""
        rng = np.random.default_rng([self.seed, 29, step])
        return [self.utterance(rng) for _ in range(size)]
