"""Accuracy, macro-F1, confusion matrix and the majority baseline against hand-computed values."""

from __future__ import annotations

import json

import numpy as np
import pytest

from rnnkit.tasks.classify import (
    accuracy,
    confusion_matrix,
    f1_per_class,
    format_confusion,
    macro_f1,
    majority_baseline,
    plot_confusion,
    write_json,
)

TRUE = np.array([0, 0, 0, 1, 1, 2, 2, 2, 2, 2])
PRED = np.array([0, 1, 0, 1, 2, 2, 2, 0, 2, 2])


def test_confusion_matrix_rows_are_true_columns_predicted():
    assert confusion_matrix(TRUE, PRED, 3).tolist() == [[2, 1, 0], [0, 1, 1], [1, 0, 4]]


def test_accuracy_and_macro_f1_by_hand():
    cm = confusion_matrix(TRUE, PRED, 3)
    assert accuracy(cm) == pytest.approx(7 / 10)
    # class 0: TP 2, FP 1, FN 1 -> 4/6; class 1: TP 1, FP 1, FN 1 -> 2/4; class 2: TP 4, FP 1,
    # FN 1 -> 8/10
    np.testing.assert_allclose(f1_per_class(cm), [4 / 6, 2 / 4, 8 / 10])
    assert macro_f1(cm) == pytest.approx((4 / 6 + 2 / 4 + 8 / 10) / 3)


def test_a_class_never_present_nor_predicted_scores_zero():
    cm = confusion_matrix(np.array([0, 1]), np.array([0, 1]), 3)
    np.testing.assert_allclose(f1_per_class(cm), [1.0, 1.0, 0.0])


def test_majority_baseline_predicts_the_most_frequent_training_class():
    train = np.array([1, 1, 1, 0, 2])
    label, acc, f1 = majority_baseline(train, TRUE, 3)
    # always class 1 on TRUE: 2 of 10 right; F1 of class 1 = 2*2 / (2*2 + 8 + 0) = 1/3
    assert (label, acc, f1) == (1, pytest.approx(0.2), pytest.approx((1 / 3) / 3))


def test_printed_confusion_matrix_names_the_classes():
    text = format_confusion(np.array([[5, 1], [2, 12]]), ["neg", "pos"])
    lines = text.splitlines()
    assert lines[1].split() == ["neg", "pos"]
    assert lines[2].split() == ["neg", "5", "1"] and lines[3].split() == ["pos", "2", "12"]


def test_json_is_written_whole_and_without_temporary_files(tmp_path):
    write_json(tmp_path / "m.json", {"accuracy": 0.5})
    write_json(tmp_path / "m.json", {"accuracy": 0.75})  # replaces the previous one
    assert json.loads((tmp_path / "m.json").read_text()) == {"accuracy": 0.75}
    assert [p.name for p in tmp_path.iterdir()] == ["m.json"]


def test_confusion_png_is_drawn(tmp_path):
    assert plot_confusion(np.array([[5, 1], [2, 12]]), ["neg", "pos"], tmp_path / "cm.png")
    assert (tmp_path / "cm.png").read_bytes()[:4] == b"\x89PNG"
