"""Tag metrics: entity P/R/F1 per type and micro equal to seqeval's on random cases; word F1
and token accuracy by hand."""

from __future__ import annotations

import random

import pytest

from rnnkit.tasks.tag.metrics import (
    entity_scores,
    format_report,
    segmentation_scores,
    tag_confusion,
    token_accuracy,
)

seqeval = pytest.importorskip("seqeval.metrics")


def _corrupt(rng: random.Random, tags: list[str], labels: list[str]) -> list[str]:
    return [rng.choice(labels) if rng.random() < 0.3 else t for t in tags]


@pytest.mark.parametrize("labels", [
    ["O", "B-PER", "I-PER", "B-LOC", "I-LOC", "B-ORG", "I-ORG"],
    ["O", "B-PER", "I-PER", "E-PER", "S-PER", "B-LOC", "I-LOC", "E-LOC", "S-LOC"],
])  # fmt: skip
def test_entity_scores_equal_seqeval_on_random_cases(labels):
    rng = random.Random(len(labels))
    for _ in range(40):
        gold = [[rng.choice(labels) for _ in range(rng.randint(1, 12))] for _ in range(15)]
        pred = [_corrupt(rng, g, labels) for g in gold]
        ours = entity_scores(gold, pred)
        assert ours["micro"]["precision"] == pytest.approx(seqeval.precision_score(gold, pred))
        assert ours["micro"]["recall"] == pytest.approx(seqeval.recall_score(gold, pred))
        assert ours["micro"]["f1"] == pytest.approx(seqeval.f1_score(gold, pred))
        theirs = seqeval.classification_report(gold, pred, output_dict=True, zero_division=0)
        for kind, s in ours["per_type"].items():
            if s["support"] == 0:
                continue  # seqeval lists only the types of the gold tags
            for key in ("precision", "recall", "f1-score"):
                ours_key = "f1" if key == "f1-score" else key
                assert s[ours_key] == pytest.approx(theirs[kind][key]), (kind, key)
            assert s["support"] == theirs[kind]["support"]


def test_entity_scores_by_hand():
    gold = [["B-PER", "I-PER", "O", "B-LOC"], ["B-ORG"]]
    pred = [["B-PER", "I-PER", "O", "O"], ["B-LOC"]]
    scores = entity_scores(gold, pred)
    assert scores["micro"]["precision"] == 0.5 and scores["micro"]["recall"] == pytest.approx(1 / 3)
    assert scores["per_type"]["PER"]["f1"] == 1.0 and scores["per_type"]["ORG"]["f1"] == 0.0
    assert scores["per_type"]["LOC"]["predicted"] == 1 and scores["per_type"]["LOC"]["f1"] == 0.0


def test_segmentation_f1_counts_words_with_both_ends_right():
    gold = [list("BESBME")]  # words 0-1, 2, 3-5
    pred = [list("BEBESS")]  # words 0-1, 2-3, 4, 5
    s = segmentation_scores(gold, pred)
    assert (s["precision"], s["recall"]) == (0.25, pytest.approx(1 / 3))
    assert s["f1"] == pytest.approx(2 * 0.25 * (1 / 3) / (0.25 + 1 / 3))


def test_token_accuracy_and_confusion():
    gold, pred = [["A", "B", "A"], ["B"]], [["A", "A", "A"], ["B"]]
    assert token_accuracy(gold, pred) == 0.75
    assert tag_confusion(gold, pred, ["A", "B"]).tolist() == [[2, 0], [1, 1]]


def test_report_table_lists_types_and_micro():
    gold = [["B-PER", "O", "B-LOC"]]
    report = {"accuracy": 1.0, "entities": entity_scores(gold, gold)}
    table = format_report(report)
    assert "PER" in table and "LOC" in table and "micro" in table and "1.0000" in table


def test_mismatched_lengths_are_refused():
    with pytest.raises(ValueError, match="same sentences and lengths"):
        entity_scores([["O", "O"]], [["O"]])
