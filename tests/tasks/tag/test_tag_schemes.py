"""Tag schemes: chunks read as seqeval reads them (valid or not), validity per scheme with the
place of the first error, BIO <-> BIOES conversion."""

from __future__ import annotations

import random

import pytest

from rnnkit.tasks.tag.schemes import (
    detect_scheme,
    entity_spans,
    first_invalid,
    spans_to_tags,
    to_bio,
    to_bioes,
    word_spans,
)

seqeval = pytest.importorskip("seqeval.metrics.sequence_labeling")


def _random_tags(rng: random.Random, n: int, prefixes: str = "BIESO") -> list[str]:
    tags = []
    for _ in range(n):
        p = rng.choice(prefixes)
        tags.append("O" if p == "O" else f"{p}-{rng.choice(('PER', 'LOC'))}")
    return tags


@pytest.mark.parametrize("prefixes", ["BIO", "BIESO"])
def test_entity_spans_match_seqeval_on_random_sequences(prefixes):
    rng = random.Random(0)
    for _ in range(2000):
        tags = _random_tags(rng, rng.randint(0, 9), prefixes)
        assert entity_spans(tags) == seqeval.get_entities(tags), tags


def test_entity_spans_of_a_valid_bio_sentence():
    tags = ["B-PER", "I-PER", "O", "B-LOC", "B-LOC", "I-LOC", "O", "I-ORG"]
    assert entity_spans(tags) == [("PER", 0, 1), ("LOC", 3, 3), ("LOC", 4, 5), ("ORG", 7, 7)]


def test_word_spans_of_bmes():
    assert word_spans(list("BMESSBE")) == [(0, 2), (3, 3), (4, 4), (5, 6)]


@pytest.mark.parametrize(
    ("tags", "scheme", "where"),
    [
        (["O", "I-PER"], "bio", (1, "I-PER follows O")),
        (["B-LOC", "I-PER"], "bio", (1, "I-PER follows B-LOC")),
        (["B-PER", "I-PER", "O", "B-LOC"], "bio", None),
        (["B-PER", "O"], "bioes", (1, "O follows B-PER")),
        (["B-PER"], "bioes", (1, "the sentence ends inside a chunk (B-PER)")),
        (["S-PER", "E-PER"], "bioes", (1, "E-PER follows S-PER")),
        (["B-PER", "I-PER", "E-PER", "S-LOC", "O"], "bioes", None),
        (["B-PER", "E-LOC"], "bioes", (1, "E-LOC follows B-PER")),
        (list("BMMESBE"), "bmes", None),
        (list("BS"), "bmes", (1, "S follows B")),
        (["X-PER"], "bio", (0, "tag 'X-PER' is not O or B/I-TYPE")),
        (["NOUN"], "bio", (0, "tag 'NOUN' is not O or B/I-TYPE")),
        (["B"], "bio", (0, "tag 'B' is not O or B/I-TYPE")),
        (["B-PER"], "bmes", (0, "tag 'B-PER' is not B, M, E or S")),
    ],
)
def test_first_invalid_names_the_tag_and_why(tags, scheme, where):
    assert first_invalid(tags, scheme) == where


def test_bio_and_bioes_convert_both_ways():
    rng = random.Random(1)
    for _ in range(300):
        spans, i = [], 0
        while i < 12:
            length = rng.randint(1, 3)
            if rng.random() < 0.5 and i + length <= 12:
                spans.append((rng.choice(("PER", "LOC")), i, i + length - 1))
                i += length
            else:
                i += 1
        bio = spans_to_tags(12, spans, "bio")
        bioes = to_bioes(bio)
        assert first_invalid(bio, "bio") is None and first_invalid(bioes, "bioes") is None
        assert entity_spans(bioes) == entity_spans(bio) == spans
        assert to_bio(bioes) == bio


def test_detect_scheme():
    assert detect_scheme([["O", "B-PER"], ["I-PER"]]) == "bio"
    assert detect_scheme([["O", "B-PER"], ["S-LOC"]]) == "bioes"
