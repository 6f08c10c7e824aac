"""CTC decoding: greedy (best path) and prefix beam search, both fed frame by frame.

A decoder takes log-probabilities (t, C) of consecutive frames with ``feed`` (any number of
times: a whole utterance at once, or the chunks of a stream) and says its current transcript
with ``best()``; symbol 0 is the blank. Feeding in chunks gives exactly what one feed gives.

Greedy: the most probable symbol of each frame, repeats merged, blanks removed. Prefix beam
search (Hannun et al. 2014): for each prefix it keeps the probability of the frames so far
ending in a blank (``pb``) and in the prefix's last symbol (``pnb``), extends the ``beam`` most
probable prefixes by every symbol each frame, and returns the most probable prefix; with a beam
as wide as the number of prefixes, ``pb + pnb`` is the exact sum over all alignments.
"""

from __future__ import annotations

import math

import numpy as np

__all__ = ["GreedyDecoder", "PrefixBeamDecoder", "decode", "make_decoder"]

_NEG = -math.inf


def _add(a: float, b: float) -> float:
    """log(exp(a) + exp(b))."""
    if a == _NEG:
        return b
    if b == _NEG:
        return a
    hi, lo = (a, b) if a > b else (b, a)
    return hi + math.log1p(math.exp(lo - hi))


class GreedyDecoder:
    """Best-path decoding (see the module docstring)."""

    def __init__(self) -> None:
        self.symbols: list[int] = []
        self.previous = 0  # the last frame's symbol (0: blank, or nothing yet)

    def feed(self, log_probs: np.ndarray) -> None:
        """Take the next frames' log-probabilities (t, C)."""
        for s in np.asarray(log_probs).argmax(axis=1).tolist():
            if s != 0 and s != self.previous:
                self.symbols.append(s)
            self.previous = s

    def best(self) -> tuple[int, ...]:
        """The transcript so far, as symbol ids."""
        return tuple(self.symbols)


class PrefixBeamDecoder:
    """CTC prefix beam search with ``beam`` prefixes kept (see the module docstring)."""

    def __init__(self, beam: int = 8) -> None:
        self.beam = beam
        self.prefixes: dict[tuple[int, ...], tuple[float, float]] = {(): (0.0, _NEG)}

    def feed(self, log_probs: np.ndarray) -> None:
        """Take the next frames' log-probabilities (t, C)."""
        for frame in np.asarray(log_probs, dtype=np.float64).tolist():
            self._frame(frame)

    def _frame(self, lp: list[float]) -> None:
        nxt: dict[tuple[int, ...], list[float]] = {}

        def at(prefix: tuple[int, ...]) -> list[float]:
            return nxt.setdefault(prefix, [_NEG, _NEG])

        for prefix, (pb, pnb) in self.prefixes.items():
            total = _add(pb, pnb)
            here = at(prefix)
            here[0] = _add(here[0], total + lp[0])  # a blank: the prefix is unchanged
            last = prefix[-1] if prefix else None
            for s in range(1, len(lp)):
                if s == last:
                    here[1] = _add(here[1], pnb + lp[s])  # the last symbol again: merged
                    longer = at((*prefix, s))
                    longer[1] = _add(longer[1], pb + lp[s])  # after a blank: a new symbol
                else:
                    longer = at((*prefix, s))
                    longer[1] = _add(longer[1], total + lp[s])
        alive = [kv for kv in nxt.items() if _add(*kv[1]) > _NEG]  # reachable prefixes only
        kept = sorted(alive, key=lambda kv: -_add(*kv[1]))[: self.beam]
        self.prefixes = {p: (v[0], v[1]) for p, v in kept}

    def scores(self) -> dict[tuple[int, ...], float]:
        """log P(prefix | frames so far) of every kept prefix."""
        return {p: _add(pb, pnb) for p, (pb, pnb) in self.prefixes.items()}

    def best(self) -> tuple[int, ...]:
        """The most probable prefix so far."""
        scores = self.scores()
        return max(scores, key=lambda p: scores[p])


def make_decoder(beam: int = 1) -> GreedyDecoder | PrefixBeamDecoder:
    """Greedy for ``beam`` 1, else prefix beam search with ``beam`` prefixes."""
    if beam < 1:
        raise ValueError(f"the beam size must be >= 1; got {beam}")
    return GreedyDecoder() if beam == 1 else PrefixBeamDecoder(beam)


def decode(log_probs: np.ndarray, beam: int = 1) -> tuple[int, ...]:
    """The transcript (symbol ids) of one utterance's log-probabilities (T, C)."""
    decoder = make_decoder(beam)
    decoder.feed(log_probs)
    return decoder.best()
