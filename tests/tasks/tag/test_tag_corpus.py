"""The bundled People's Daily corpus as three tasks: entities (consecutive nr joined), B/M/E/S
segmentation, parts of speech."""

from __future__ import annotations

import pytest

from rnnkit.errors import RnnkitError
from rnnkit.tasks.tag.corpus import bmes_tags, peoples_daily, word_entities
from rnnkit.tasks.tag.schemes import first_invalid


def test_consecutive_person_words_are_one_entity():
    tags = ["nr", "nr", "v", "ns", "ns", "nt", "nr", "w", "nr"]
    assert word_entities(tags) == [
        ("PER", 0, 1), ("LOC", 3, 3), ("LOC", 4, 4), ("ORG", 5, 5), ("PER", 6, 6), ("PER", 8, 8)
    ]  # fmt: skip


def test_bmes_of_words():
    assert bmes_tags(["中共中央", "、", "江", "泽民"]) == list("BMMESSBE")


@pytest.fixture(scope="module")
def corpus():
    return {(t, lv): peoples_daily(t, lv) for t, lv in
            [("ner", "char"), ("ner", "word"), ("segment", "char"), ("pos", "word")]}  # fmt: skip


def test_the_three_tasks_of_the_second_sentence(corpus):
    ner = corpus["ner", "char"][1]
    assert "".join(ner.tokens) == "中共中央总书记、国家主席江泽民"
    assert ner.tags[:4] == ["B-ORG", "I-ORG", "I-ORG", "I-ORG"]
    assert ner.tags[-3:] == ["B-PER", "I-PER", "I-PER"] and ner.lines[0] == 2
    assert corpus["ner", "word"][1].tags[-2:] == ["B-PER", "I-PER"]
    assert corpus["segment", "char"][1].tags[:5] == ["B", "M", "M", "E", "B"]
    assert corpus["pos", "word"][1].tags[-2:] == ["nr", "nr"]


def test_every_sentence_is_valid_in_its_scheme(corpus):
    assert len(corpus["ner", "char"]) == 19484
    for (task, _), sentences in corpus.items():
        if task == "pos":
            continue
        scheme = "bmes" if task == "segment" else "bio"
        assert all(first_invalid(s.tags, scheme) is None for s in sentences)


def test_tasks_need_their_level():
    with pytest.raises(RnnkitError, match="--task segment tags characters"):
        peoples_daily("segment", "word")
    with pytest.raises(RnnkitError, match="--task pos tags words"):
        peoples_daily("pos", "char")
