"""``classify train`` and ``predict`` end to end through ``rnnkit.cli.main``: outputs, the test
report, predictions from the command line and from Python, multi-class labels, exact resume."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
import torch
from classify_helpers import reviews, train_args, write_csv, write_jsonl

from rnnkit.cli import main
from rnnkit.tasks.classify import METRICS_FILE, load_classifier
from rnnkit.train import BEST, LAST, load_checkpoint


def test_a_run_writes_checkpoints_metrics_and_the_test_report(trained):
    assert {p.name for p in trained.iterdir()} >= {LAST, BEST, "metrics.jsonl", METRICS_FILE}
    report = json.loads((trained / METRICS_FILE).read_text())
    cm = np.array(report["confusion_matrix"])
    assert report["labels"] == ["neg", "pos"] and cm.sum() == report["examples"]["test"] == 12
    assert report["accuracy"] == pytest.approx(np.trace(cm) / cm.sum())
    assert report["majority_baseline"]["label"] in ("neg", "pos")
    assert report["examples"] == {"train": 38, "validation": 10, "test": 12}
    evals = [r for r in map(json.loads, (trained / "metrics.jsonl").open()) if "val_loss" in r]
    assert [r["step"] for r in evals] == [3, 6] and all("val_error" in r for r in evals)


def test_checkpoint_carries_vocabulary_and_label_names(trained):
    ckpt = load_checkpoint(trained / LAST)
    assert ckpt["labels"] == ["neg", "pos"] and ckpt["vocab"]["tokens"][:2] == ["<pad>", "<unk>"]
    assert ckpt["config"]["task"] == "classify"


def test_predict_prints_label_and_probability_per_text(trained, capsys):
    capsys.readouterr()
    argv = ["classify", "predict", "--checkpoint", str(trained), "truly great", "so  dull"]
    assert main([*argv, "--backend", "reference"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 2 and lines[1].endswith("\tso dull")
    for line in lines:
        label, prob, _ = line.split("\t")
        assert label in ("neg", "pos") and 0.5 <= float(prob) <= 1.0


def test_predict_reads_an_input_file(trained, tmp_path, capsys):
    (tmp_path / "texts.txt").write_text("truly great\n\nso dull\n", encoding="utf-8")
    capsys.readouterr()
    argv = ["classify", "predict", "--checkpoint", str(trained)]
    assert main([*argv, "--input", str(tmp_path / "texts.txt")]) == 0
    assert len(capsys.readouterr().out.splitlines()) == 2


def test_loaded_model_predicts_labels_and_probabilities_from_python(trained):
    clf = load_classifier(trained)
    labels, probs = clf.predict(["truly great", "so dull", ""])
    assert len(labels) == 3 and set(labels) <= {"neg", "pos"} and probs.shape == (3,)
    full = clf.predict_proba(["truly great", "so dull", ""])
    assert full.shape == (3, 2) and np.allclose(full.sum(1), 1.0)
    assert np.allclose(full.max(1), probs)
    with pytest.raises(TypeError, match="list of texts"):
        clf.predict("truly great")


def test_many_string_labels_from_jsonl(tmp_path, capsys):
    rows = reviews(45, classes=("comedy", "drama", "horror"))
    data = write_jsonl(tmp_path / "genres.jsonl", [{"review": t, "genre": g} for t, g in rows])
    out = tmp_path / "genres"
    argv = train_args(data, out, "--steps", "3", "--text-column", "review")
    argv += ["--label-column", "genre", "--pooling", "max", "--bidirectional", "--cell", "lstm"]
    assert main(argv) == 0
    assert "always" in capsys.readouterr().out  # the baseline is printed beside the results
    clf = load_classifier(out)
    assert clf.labels == ["comedy", "drama", "horror"] and clf.model.head.out_features == 3
    assert clf.predict_proba(["a text"]).shape == (1, 3)


def _weights(path):
    return load_checkpoint(path / LAST)["model"]


def test_resume_continues_exactly_like_an_unbroken_run(reviews_csv, tmp_path):
    # constant rate (the cosine schedule depends on the total); dropouts draw from the RNG
    extra = ("--schedule", "constant", "--warmup", "0", "--dropout", "0.3", "--save-every", "4")
    extra += ("--word-dropout", "0.2")
    assert main(train_args(reviews_csv, tmp_path / "full", "--steps", "14", *extra)) == 0
    assert main(train_args(reviews_csv, tmp_path / "cut", "--steps", "6", *extra)) == 0
    assert main(train_args(reviews_csv, tmp_path / "cut", "--steps", "14", "--resume", *extra)) == 0
    full, resumed = _weights(tmp_path / "full"), _weights(tmp_path / "cut")
    assert load_checkpoint(tmp_path / "cut" / LAST)["step"] == 14  # over an epoch boundary (9)
    assert all(torch.equal(resumed[k], v) for k, v in full.items())


def test_resume_extends_a_finished_run(trained, reviews_csv, tmp_path):
    out = tmp_path / "more"
    shutil.copytree(trained, out)
    assert main(train_args(reviews_csv, out, "--steps", "9", "--resume")) == 0
    assert load_checkpoint(out / LAST)["step"] == 9


def test_epochs_count_passes_over_the_training_split(reviews_csv, tmp_path):
    out = tmp_path / "epochs"
    assert main(train_args(reviews_csv, out, "--epochs", "2")) == 0
    assert load_checkpoint(out / LAST)["step"] == 2 * (38 // 4)


def test_val_split_is_a_fraction_of_what_the_test_split_leaves(tmp_path):
    path = write_csv(tmp_path / "r.csv", reviews(40))
    out = tmp_path / "r"
    assert main(train_args(path, out, "--steps", "1", "--val-split", "0.5")) == 0
    assert json.loads((out / METRICS_FILE).read_text())["examples"]["validation"] == 16


@pytest.mark.slow
def test_a_small_gru_learns_what_the_keyword_says(tmp_path):
    data = write_csv(tmp_path / "r.csv", reviews(200))
    out = tmp_path / "learn"
    argv = train_args(data, out, "--steps", "80", "--eval-every", "40", "--lr", "0.01")
    argv += ["--embed", "16", "--hidden", "16", "--batch-size", "16", "--dropout", "0"]
    assert main(argv) == 0
    report = json.loads((out / METRICS_FILE).read_text())
    assert report["majority_baseline"]["accuracy"] == 0.5
    assert report["accuracy"] >= 0.9 and report["macro_f1"] >= 0.9, report
