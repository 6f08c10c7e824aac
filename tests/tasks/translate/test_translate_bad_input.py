"""Bad input to ``rnnkit translate``: one line on stderr naming what was expected and what
came, exit status 2, nothing written or overwritten."""

from __future__ import annotations

import pytest
from translate_helpers import reversals, train_args, write_jsonl, write_tsv

from helpers import cli_fails
from rnnkit.train import save_checkpoint


def _fails_to_train(capsys, data, tmp_path, match: str, *extra) -> None:
    out = tmp_path / "out"
    cli_fails(capsys, train_args(data, out, "--steps", "2", *extra), match)
    assert not out.exists()


def test_missing_file(tmp_path, capsys):
    _fails_to_train(capsys, tmp_path / "nope.tsv", tmp_path, "no such file")


def test_unsupported_file_format(tmp_path, capsys):
    (tmp_path / "p.txt").write_text("source\ttarget\na\tb\n")
    _fails_to_train(capsys, tmp_path / "p.txt", tmp_path, "unsupported file format")


@pytest.mark.parametrize("flag", ["--source-column", "--target-column"])
def test_missing_column_lists_the_available_ones(tmp_path, capsys, pairs_tsv, flag):
    match = f"no column 'word' ({flag}); the columns are: 'source', 'target'"
    _fails_to_train(capsys, pairs_tsv, tmp_path, match, flag, "word")


def test_wrong_delimiter_is_named(tmp_path, capsys):
    path = write_tsv(tmp_path / "p.tsv", reversals(20), delimiter=";")
    _fails_to_train(capsys, path, tmp_path, "is the delimiter right")


@pytest.mark.parametrize(("row", "column"), [(("  ", "a"), "source"), (("abc", ""), "target")])
def test_empty_source_or_target_names_its_line(tmp_path, capsys, row, column):
    rows = reversals(20)
    rows[6] = row
    path = write_tsv(tmp_path / "p.tsv", rows)
    _fails_to_train(capsys, path, tmp_path, f"line 8 has an empty '{column}'")


def test_a_line_with_too_many_fields_names_its_line(tmp_path, capsys):
    path = tmp_path / "p.csv"
    path.write_text("source,target\nab,b a\nab,b a,x\n")
    _fails_to_train(capsys, path, tmp_path, "line 3 has 3 fields")


def test_a_jsonl_line_that_does_not_parse_names_its_line(tmp_path, capsys):
    path = write_jsonl(tmp_path / "p.jsonl", [{"source": "ab", "target": "b a"}] * 3)
    path.write_text(path.read_text() + '{"source": oops}\n')
    _fails_to_train(capsys, path, tmp_path, "line 4 is not JSON")


def test_encoding_error_names_the_line_and_suggests_encoding(tmp_path, capsys):
    path = tmp_path / "p.tsv"
    path.write_bytes("source\ttarget\nab\tb a\ntrès\ts è r t\n".encode("latin-1"))
    _fails_to_train(capsys, path, tmp_path, "line 3 has byte 0xe8; pass its encoding")


@pytest.mark.parametrize(("flag", "value", "match"), [
    ("--beam-size", "0", "--beam-size must be >= 1; got 0"),
    ("--max-length", "-1", "--max-length must be >= 1; got -1"),
    ("--teacher-forcing", "1.5", "--teacher-forcing must be in [0, 1]; got 1.5"),
    ("--hidden", "7", "--hidden must be even with --bidirectional-encoder"),
    ("--monitor", "bleu", "--monitor must be one of wer, per, loss"),
    ("--stress", "drop", "--stress applies to the bundled CMU dictionary, not to --data"),
])  # fmt: skip
def test_bad_training_options(tmp_path, capsys, pairs_tsv, flag, value, match):
    _fails_to_train(capsys, pairs_tsv, tmp_path, match, flag, value)


def test_tied_embeddings_need_equal_sizes(tmp_path, capsys, pairs_tsv):
    match = "--tie-embeddings needs --embed equal to --hidden; got 8 and 16"
    _fails_to_train(capsys, pairs_tsv, tmp_path, match, "--tie-embeddings", "--hidden", "16")


def test_a_finished_run_is_not_overwritten(trained, pairs_tsv, capsys):
    before = {p.name: p.stat().st_mtime_ns for p in trained.iterdir()}
    cli_fails(capsys, train_args(pairs_tsv, trained, "--steps", "2"), str(trained))
    assert {p.name: p.stat().st_mtime_ns for p in trained.iterdir()} == before


@pytest.mark.parametrize(("flag", "value", "match"), [
    ("--beam-size", "0", "--beam-size must be >= 1; got 0"),
    ("--max-length", "-1", "--max-length must be >= 1; got -1"),
    ("--n-best", "9", "--n-best must be in [1, --beam-size 5]; got 9"),
])  # fmt: skip
def test_bad_decoding_options(trained, capsys, flag, value, match):
    cli_fails(capsys, ["translate", "predict", "--checkpoint", str(trained), "abc", flag, value],
           match)  # fmt: skip


def test_a_checkpoint_of_another_task_is_refused(tmp_path, capsys):
    config = {"task": "classify", "classify": {}}
    save_checkpoint(tmp_path / "last.pt", {"step": 1, "model": {}, "config": config})
    argv = ["translate", "predict", "--checkpoint", str(tmp_path), "abc"]
    cli_fails(capsys, argv, "is not a translate checkpoint (it has a classify checkpoint)")
    argv = ["translate", "evaluate", "--checkpoint", str(tmp_path), "--data", "x.tsv"]
    cli_fails(capsys, argv, "is not a translate checkpoint")


def test_evaluate_names_a_bad_data_file(trained, tmp_path, capsys):
    path = write_tsv(tmp_path / "e.tsv", reversals(5), ("src", "tgt"))
    argv = ["translate", "evaluate", "--checkpoint", str(trained), "--data", str(path)]
    cli_fails(capsys, argv, "no column 'source' (--source-column)")
