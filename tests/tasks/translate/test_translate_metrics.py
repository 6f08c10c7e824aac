"""WER, PER and edit distance by hand and brute force; BLEU and chrF as sacrebleu gives them."""

from __future__ import annotations

import itertools

import pytest
import sacrebleu

from rnnkit.tasks.translate import TranslateConfig, bleu_chrf, edit_distance, error_rates
from rnnkit.tasks.translate.metrics import format_table, unstressed


def _brute_distance(a, b) -> int:
    """Edit distance by trying every alignment (recursion without memo: tiny inputs only)."""
    if not a or not b:
        return len(a) + len(b)
    return min(
        _brute_distance(a[1:], b) + 1,
        _brute_distance(a, b[1:]) + 1,
        _brute_distance(a[1:], b[1:]) + (a[0] != b[0]),
    )


def test_edit_distance_by_hand():
    assert edit_distance("kitten", "sitting") == 3
    assert edit_distance([], ["A", "B"]) == 2
    assert edit_distance(["AH0", "B"], ["AH0", "B"]) == 0


def test_edit_distance_matches_brute_force_on_every_short_pair():
    words = ["".join(p) for n in range(4) for p in itertools.product("ab", repeat=n)]
    for a, b in itertools.product(words, repeat=2):
        assert edit_distance(a, b) == _brute_distance(a, b), (a, b)


def test_wer_and_per_count_against_the_best_reference():
    hyps = [["T", "AH0"], ["B", "IY1"], ["K"]]
    refs = [
        [["T", "OW1"], ["T", "AH0"]],  # equals the second reference: right
        [["B", "IY0"]],  # one substitution of 2
        [["K", "AE1", "T"], ["K", "AE1"]],  # closest: K AE1 (1 edit of 2)
    ]
    rates = error_rates(hyps, refs)
    assert rates["wer"] == pytest.approx(2 / 3)
    assert (rates["edits"], rates["reference_tokens"]) == (2, 6)  # 0 + 1 + 1 over 2 + 2 + 2
    assert rates["per"] == pytest.approx(2 / 6)


def test_scores_without_stress_drop_only_the_vowels_digits():
    assert unstressed(["T", "AH0", "M", "EY1", "T", "OW2", "HH"]) == [
        "T",
        "AH",
        "M",
        "EY",
        "T",
        "OW",
        "HH",
    ]
    hyps = [["B", "IY1"], ["T", "AH1", "M"]]
    refs = [[["B", "IY0"]], [["T", "AA1", "M"], ["T", "AH0", "M"]]]
    assert error_rates(hyps, refs)["wer"] == 1.0
    plain = error_rates([unstressed(h) for h in hyps], [[unstressed(r) for r in rs] for rs in refs])
    assert (plain["wer"], plain["edits"]) == (
        0.0,
        0,
    )  # each differs from a reference in stress only
    table = format_table({"greedy": {"wer": 0.25, "per": 0.0625, "wer_unstressed": 0.2}})
    header, row = table.splitlines()
    assert header.split() == ["WER", "PER", "WER", "w/o", "stress"]
    assert row.split() == ["greedy", "25.00%", "6.25%", "20.00%"]
    assert len(header) == len(row)  # columns line up under their headings


def test_only_the_bundled_dictionary_with_stress_is_scored_without_it_too():
    assert TranslateConfig().stressed_cmudict
    assert not TranslateConfig(stress="drop").stressed_cmudict
    assert not TranslateConfig(data="pairs.tsv").stressed_cmudict


def test_bleu_and_chrf_are_sacrebleus_own():
    hyps = ["the cat sat on the mat", "a dog ran in the big park today"]
    refs = [["the cat sat on a mat"], ["a dog ran in the park today", "the dog ran"]]
    got = bleu_chrf(hyps, refs)
    streams = [["the cat sat on a mat", "a dog ran in the park today"], [None, "the dog ran"]]
    assert got["bleu"] == pytest.approx(sacrebleu.corpus_bleu(hyps, streams).score)
    assert got["chrf"] == pytest.approx(sacrebleu.corpus_chrf(hyps, streams).score)
    assert bleu_chrf(["a b c d e"], [["a b c d e"]])["bleu"] == pytest.approx(100.0)
