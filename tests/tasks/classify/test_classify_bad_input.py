"""Bad input to ``rnnkit classify``: one line on stderr, exit status 2, nothing written or
overwritten."""

from __future__ import annotations

import pytest
from classify_helpers import reviews, train_args, write_csv, write_jsonl

from helpers import cli_fails
from rnnkit.train import save_checkpoint


def _fails_to_train(capsys, data, tmp_path, match: str, *extra) -> None:
    out = tmp_path / "out"
    cli_fails(capsys, train_args(data, out, "--steps", "2", *extra), match)
    assert not out.exists()


def test_missing_file(tmp_path, capsys):
    _fails_to_train(capsys, tmp_path / "nope.csv", tmp_path, "no such file")


@pytest.mark.parametrize("name", ["reviews.txt", "reviews.json", "reviews"])
def test_unsupported_file_format(tmp_path, capsys, name):
    (tmp_path / name).write_text("text,label\nfine,pos\n")
    _fails_to_train(capsys, tmp_path / name, tmp_path, "unsupported file format")


@pytest.mark.parametrize("flag", ["--text-column", "--label-column"])
def test_unknown_csv_column_lists_the_available_ones(tmp_path, capsys, reviews_csv, flag):
    match = f"no column 'sentiment' ({flag}); the columns are: 'text', 'label'"
    _fails_to_train(capsys, reviews_csv, tmp_path, match, flag, "sentiment")


def test_unknown_jsonl_key_lists_the_available_ones(tmp_path, capsys):
    path = write_jsonl(tmp_path / "r.jsonl", [{"review": t, "label": y} for t, y in reviews()])
    _fails_to_train(capsys, path, tmp_path, "no column 'text' on line 1 (--text-column)")


@pytest.mark.parametrize(("row", "column"), [(("  ", "pos"), "text"), (("fine", ""), "label")])
def test_empty_csv_field_names_its_row(tmp_path, capsys, row, column):
    rows = reviews(20)
    rows[6] = row
    path = write_csv(tmp_path / "r.csv", rows)
    _fails_to_train(capsys, path, tmp_path, f"row 7 (line 8) has an empty '{column}'")


def test_empty_jsonl_field_names_its_line(tmp_path, capsys):
    records = [{"text": t, "label": y} for t, y in reviews(20)]
    records[3]["label"] = None
    path = write_jsonl(tmp_path / "r.jsonl", records)
    _fails_to_train(capsys, path, tmp_path, "line 4 has an empty 'label'")


def test_jsonl_line_that_is_not_json(tmp_path, capsys):
    path = tmp_path / "r.jsonl"
    path.write_text('{"text": "fine", "label": "pos"}\n{"text": oops}\n')
    _fails_to_train(capsys, path, tmp_path, "line 2 is not JSON")


def test_csv_row_with_too_many_fields(tmp_path, capsys):
    path = tmp_path / "r.csv"
    path.write_text("text,label\nfine,pos\nfine,pos,extra\n")
    _fails_to_train(capsys, path, tmp_path, "row 2 (line 3) has 3 fields")


def test_file_in_another_encoding_suggests_encoding(tmp_path, capsys):
    path = tmp_path / "r.csv"
    path.write_bytes("text,label\nun film très réussi,pos\nraté,neg\n".encode("latin-1"))
    _fails_to_train(capsys, path, tmp_path, "--encoding")


def test_a_single_class_is_not_a_classification(tmp_path, capsys):
    path = write_csv(tmp_path / "r.csv", [(t, "pos") for t, _ in reviews(20)])
    _fails_to_train(capsys, path, tmp_path, "a single class, 'pos'")


def test_too_few_examples_for_the_splits(tmp_path, capsys):
    path = write_csv(tmp_path / "r.csv", reviews(4))
    _fails_to_train(capsys, path, tmp_path, "the validation split would be empty")


def test_too_few_training_examples_for_one_batch(tmp_path, capsys):
    path = write_csv(tmp_path / "r.csv", reviews(12))
    _fails_to_train(capsys, path, tmp_path, "fewer than one batch", "--batch-size", "16")


@pytest.mark.parametrize(
    ("flag", "value", "match"),
    [
        ("--val-split", "1.2", "--val-split must be between 0 and 1"),
        ("--test-split", "0", "--test-split must be between 0 and 1"),
        ("--maxlen", "0", "--maxlen must be >= 1"),
        ("--vocab-size", "2", "--vocab-size must be >= 3"),
        ("--dropout", "1", "--dropout must be in [0, 1)"),
        ("--word-dropout", "-0.1", "--word-dropout must be in [0, 1)"),
        ("--monitor", "accuracy", "--monitor must be one of error, loss"),
    ],
)
def test_bad_options(tmp_path, capsys, reviews_csv, flag, value, match):
    _fails_to_train(capsys, reviews_csv, tmp_path, match, flag, value)


def test_resume_of_another_configuration_overwrites_nothing(trained, reviews_csv, capsys):
    before = {p.name: p.read_bytes() for p in trained.iterdir()}
    argv = train_args(reviews_csv, trained, "--steps", "8", "--resume", "--pooling", "mean")
    cli_fails(capsys, argv, "--pooling last (now mean)")
    assert {p.name: p.read_bytes() for p in trained.iterdir()} == before


def test_resume_on_other_data_is_refused(trained, tmp_path, capsys):
    other = write_csv(tmp_path / "other.csv", reviews(61))
    cli_fails(capsys, train_args(other, trained, "--steps", "8", "--resume"), "other data")


def test_new_run_into_a_used_directory_is_refused(trained, reviews_csv, capsys):
    before = (trained / "last.pt").read_bytes()
    cli_fails(capsys, train_args(reviews_csv, trained, "--steps", "2"), "--resume to continue")
    assert (trained / "last.pt").read_bytes() == before


def test_predict_with_a_checkpoint_of_another_task(tmp_path, capsys):
    config = {"task": "textgen", "textgen": {}}
    save_checkpoint(tmp_path / "last.pt", {"step": 1, "model": {}, "config": config})
    argv = ["classify", "predict", "--checkpoint", str(tmp_path), "fine"]
    cli_fails(capsys, argv, "is not a classify checkpoint (it has a textgen checkpoint)")


def test_predict_without_a_checkpoint(tmp_path, capsys):
    cli_fails(
        capsys, ["classify", "predict", "--checkpoint", str(tmp_path), "fine"], "no checkpoint"
    )


@pytest.mark.parametrize(
    ("extra", "match"),
    [
        ((), "nothing to classify"),
        (("fine", "--input", "x.txt"), "not both"),
        (("--input", "missing.txt"), "no such file"),
        (("--input", "missing.csv"), "--input missing.csv: no such file"),
    ],
)
def test_predict_needs_texts(trained, capsys, extra, match):
    cli_fails(capsys, ["classify", "predict", "--checkpoint", str(trained), *extra], match)
