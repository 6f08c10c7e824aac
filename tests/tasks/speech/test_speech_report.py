"""The pictures of a test report: the digit confusion matrix and one utterance's features
with its frame-wise CTC posteriors."""

from __future__ import annotations

import numpy as np
import pytest

from rnnkit.tasks.speech import Alphabet, plot_posteriors
from rnnkit.tasks.speech.report import plot_confusion_png, summary

pytest.importorskip("matplotlib", reason="the pictures need matplotlib")

PNG = b"\x89PNG"


def test_posteriors_png_shares_one_time_axis(tmp_path):
    alphabet = Alphabet("012")
    feats = np.random.default_rng(0).normal(size=(40, 8))  # 40 frames
    lp = np.log(np.full((10, 4), 0.25))  # 10 frames after subsampling by 4
    assert plot_posteriors(feats, lp, alphabet, 0.01, tmp_path / "p.png", "title")
    assert (tmp_path / "p.png").read_bytes()[:4] == PNG


def test_confusion_png_and_summary_of_a_report(tmp_path):
    alphabet = Alphabet("01")
    cm = [[3, 0, 1], [1, 2, 0], [0, 0, 0]]
    iso = {"accuracy": 5 / 7, "wer": 2 / 7, "ser": 2 / 7, "confusion_matrix": cm}
    con = {"utterances": 2, "words": 7, "wer": 0.0, "ser": 0.0}
    report = {"recordings": 7, "beam_size": 1, "isolated": iso, "connected": con}
    assert plot_confusion_png(report, alphabet, tmp_path / "c.png")
    assert (tmp_path / "c.png").read_bytes()[:4] == PNG
    text = summary(report, alphabet)
    assert "accuracy 0.7143" in text and "other" in text and "(2 utterances, 7 words)" in text
