"""CTC decoding: prefix beam search against brute-force enumeration of every alignment, greedy
by hand, and chunked feeding equal to one feed."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest

from rnnkit.tasks.speech import GreedyDecoder, PrefixBeamDecoder, decode, make_decoder


def _collapse(path) -> tuple[int, ...]:
    """An alignment's label sequence: repeats merged, then blanks (0) removed."""
    return tuple(s for s, _ in itertools.groupby(path) if s != 0)


def _brute_force(log_probs: np.ndarray) -> dict[tuple[int, ...], float]:
    """log P(labels | x) of every label sequence, summing all C**T alignments."""
    T, C = log_probs.shape
    totals: dict[tuple[int, ...], float] = {}
    for path in itertools.product(range(C), repeat=T):
        p = math.exp(sum(log_probs[t, s] for t, s in enumerate(path)))
        labels = _collapse(path)
        totals[labels] = totals.get(labels, 0.0) + p
    return {k: math.log(v) for k, v in totals.items()}


def _random_log_probs(T: int, C: int, seed: int) -> np.ndarray:
    logits = np.random.default_rng(seed).normal(size=(T, C)) * 2
    return logits - np.log(np.exp(logits).sum(1, keepdims=True))


@pytest.mark.parametrize(
    ("T", "C", "seed"), [(3, 3, 0), (4, 3, 1), (5, 3, 2), (4, 4, 3), (6, 2, 4)]
)
def test_wide_beam_gives_every_prefix_its_exact_probability(T, C, seed):
    lp = _random_log_probs(T, C, seed)
    exact = _brute_force(lp)
    beam = PrefixBeamDecoder(beam=10_000)
    beam.feed(lp)
    scores = beam.scores()
    assert set(scores) == set(exact)
    for labels, value in exact.items():
        assert scores[labels] == pytest.approx(value, abs=1e-9)
    assert beam.best() == max(exact, key=exact.get)


@pytest.mark.parametrize("seed", range(5))
def test_narrow_beam_finds_the_most_probable_transcript_on_tiny_cases(seed):
    lp = _random_log_probs(5, 3, seed + 10)
    exact = _brute_force(lp)
    assert decode(lp, beam=8) == max(exact, key=exact.get)


def test_beam_beats_greedy_where_best_path_is_not_best_transcript():
    # frame-wise best path is blank, blank (p .36) but the label 1 sums .64 over its alignments
    p = np.array([[0.6, 0.4], [0.6, 0.4]])
    lp = np.log(p)
    assert decode(lp, beam=1) == ()
    assert decode(lp, beam=4) == (1,)


def test_greedy_merges_repeats_and_drops_blanks():
    path = [1, 1, 0, 1, 2, 2, 0, 0, 3, 0]
    lp = np.log(np.full((len(path), 4), 0.01))
    lp[np.arange(len(path)), path] = 0.0
    assert decode(lp) == (1, 1, 2, 3)


@pytest.mark.parametrize("beam", [1, 3])
def test_feeding_in_chunks_equals_one_feed(beam):
    lp = _random_log_probs(40, 5, 7)
    whole, chunked = make_decoder(beam), make_decoder(beam)
    whole.feed(lp)
    for start in (0, 3, 4, 17, 30):
        chunked.feed(lp[start : {0: 3, 3: 4, 4: 17, 17: 30, 30: 40}[start]])
    assert whole.best() == chunked.best()
    assert isinstance(make_decoder(1), GreedyDecoder)
    with pytest.raises(ValueError, match="beam size"):
        make_decoder(0)
