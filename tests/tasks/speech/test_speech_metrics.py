"""Error rates against hand-computed cases."""

from __future__ import annotations

import numpy as np
import pytest

from rnnkit.tasks.speech import Alphabet, confusion, edit_distance, error_rate, isolated_accuracy


@pytest.mark.parametrize(
    ("ref", "hyp", "d"),
    [
        ("", "", 0),
        ("abc", "abc", 0),
        ("abc", "", 3),
        ("", "ab", 2),
        ("kitten", "sitting", 3),  # k->s, e->i, +g
        ("flaw", "lawn", 2),  # -f, +n
        ("1234", "1324", 2),
    ],
)
def test_edit_distance_by_hand(ref, hyp, d):
    assert edit_distance(ref, hyp) == edit_distance(hyp, ref) == d


def test_wer_counts_words_over_all_references():
    a = Alphabet("abcdefghijklmnopqrstuvwxyz ")
    refs = [a.encode("the cat sat"), a.encode("on the mat")]
    hyps = [a.encode("the cat sat down"), a.encode("on a mat")]
    # one insertion + one substitution over 6 reference words
    assert error_rate(refs, hyps, a.words) == pytest.approx(2 / 6)
    # characters: +" down" (5) and "the" -> "a" (1 sub, 2 del) over 21 symbols
    assert error_rate(refs, hyps) == pytest.approx(8 / 21)


def test_digits_without_space_are_one_word_each():
    a = Alphabet("0123456789")
    assert a.encode("4 07") == a.encode("407") == (5, 1, 8)
    refs, hyps = [a.encode("407"), a.encode("12")], [a.encode("47"), a.encode("132")]
    assert error_rate(refs, hyps, a.words) == pytest.approx(2 / 5)  # -0, +3
    assert a.decode((5, 0, 1, 8)) == "407"


def test_isolated_accuracy_and_confusion():
    refs, hyps = [(1,), (2,), (2,), (3,)], [(1,), (2,), (3,), (3, 3)]
    assert isolated_accuracy(refs, hyps) == 0.5
    cm = confusion(refs, hyps, 3)
    expected = np.array([[1, 0, 0, 0], [0, 1, 1, 0], [0, 0, 0, 1], [0, 0, 0, 0]])
    assert np.array_equal(cm, expected)
