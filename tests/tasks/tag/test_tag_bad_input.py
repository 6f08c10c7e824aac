"""Bad input to ``rnnkit tag``: one line on stderr, exit status 2, nothing written or
overwritten."""

from __future__ import annotations

import pytest
from tag_helpers import ner_sentences, train_args, write_conll

from helpers import cli_fails
from rnnkit.cli import main
from rnnkit.train import save_checkpoint


def _fails_to_train(capsys, data, tmp_path, match: str, *extra) -> None:
    out = tmp_path / "out"
    cli_fails(capsys, train_args(data, out, "--steps", "2", *extra), match)
    assert not out.exists()


def test_a_file_in_none_of_the_formats(tmp_path, capsys):
    (tmp_path / "a.txt").write_text("Hello\nthere\n")
    _fails_to_train(capsys, tmp_path / "a.txt", tmp_path, "in none of the formats")


def test_a_sentence_without_its_tag_column(tmp_path, capsys):
    path = write_conll(tmp_path / "a.conll", ner_sentences(20))
    lines = path.read_text().splitlines()
    lines[7] = lines[7].split("\t")[0]
    path.write_text("\n".join(lines) + "\n")
    _fails_to_train(capsys, path, tmp_path, "line 8 has 1 columns, line 1 2")


def test_a_tag_column_past_the_last(tmp_path, capsys, ner_conll):
    _fails_to_train(capsys, ner_conll, tmp_path, "the tag column 4 is missing", "--tag-column", "4")


def test_an_unknown_tag_column(tmp_path, capsys, ner_conll):
    _fails_to_train(capsys, ner_conll, tmp_path, "unknown --tag-column 'lemma'", "--tag-column",
                    "lemma")  # fmt: skip


def test_tags_that_break_the_scheme_name_the_line(tmp_path, capsys):
    sentences = ner_sentences(20)
    sentences[2][0] = (sentences[2][0][0], "I-LOC")  # an I- tag opening a sentence
    path = write_conll(tmp_path / "a.conll", sentences)
    line = sum(len(s) + 1 for s in sentences[:2]) + 1
    _fails_to_train(capsys, path, tmp_path, f"line {line}: I-LOC follows O; the tags are not "
                    "valid BIO (IOB2)")  # fmt: skip


def test_pos_tags_are_not_entities(tmp_path, capsys):
    path = write_conll(tmp_path / "a.conll", [[("a", "NOUN"), ("b", "VERB")]] * 20)
    _fails_to_train(capsys, path, tmp_path, "tag 'NOUN' is not O or B/I-TYPE")
    assert main(train_args(path, tmp_path / "pos", "--steps", "1", "--task", "pos")) == 0


def test_empty_and_binary_files(tmp_path, capsys):
    (tmp_path / "a.conll").write_text("\n\n")
    _fails_to_train(capsys, tmp_path / "a.conll", tmp_path, "the file is empty")
    (tmp_path / "b.conll").write_bytes(bytes(range(256)) * 4)
    _fails_to_train(capsys, tmp_path / "b.conll", tmp_path, "is a binary file")


@pytest.mark.parametrize(
    ("extra", "match"),
    [
        (("--val-split", "1.5"), "--val-split must be between 0 and 1"),
        (("--hidden", "0"), "--hidden must be >= 1"),
        (("--dropout", "1"), "--dropout must be in [0, 1)"),
        (("--level", "char"), "--level char splits the bundled corpus's words"),
        (("--monitor", "f1"), "--monitor must be one of error, token_error, loss"),
    ],
)
def test_bad_options(tmp_path, capsys, ner_conll, extra, match):
    _fails_to_train(capsys, ner_conll, tmp_path, match, *extra)


def test_too_few_sentences_for_the_splits(tmp_path, capsys):
    path = write_conll(tmp_path / "a.conll", ner_sentences(3))
    _fails_to_train(capsys, path, tmp_path, "the validation split would be empty")


def test_resume_of_another_configuration_overwrites_nothing(trained, ner_conll, capsys):
    before = {p.name: p.read_bytes() for p in trained.iterdir()}
    argv = train_args(ner_conll, trained, "--steps", "8", "--resume", "--scheme", "bioes")
    cli_fails(capsys, argv, "--scheme bio (now bioes)")
    assert {p.name: p.read_bytes() for p in trained.iterdir()} == before


def test_predict_with_a_checkpoint_of_another_task(tmp_path, capsys):
    config = {"task": "classify", "classify": {}}
    save_checkpoint(tmp_path / "last.pt", {"step": 1, "model": {}, "config": config})
    for command in (["predict", "fine"], ["evaluate"]):
        argv = ["tag", command[0], "--checkpoint", str(tmp_path), *command[1:]]
        cli_fails(capsys, argv, "is not a tag checkpoint (it has a classify checkpoint)")


@pytest.mark.parametrize(
    ("extra", "match"),
    [
        ((), "nothing to tag"),
        (("fine", "--input", "x.txt"), "not both"),
        (("--input", "missing.txt"), "no such file"),
    ],
)
def test_predict_needs_texts(trained, capsys, extra, match):
    cli_fails(capsys, ["tag", "predict", "--checkpoint", str(trained), *extra], match)


def test_evaluate_on_tags_the_model_does_not_know(trained, tmp_path, capsys):
    path = write_conll(tmp_path / "a.conll", [[("x", "B-ORG")]])
    argv = ["tag", "evaluate", "--checkpoint", str(trained), "--data", str(path)]
    cli_fails(capsys, argv, "tags the model does not know: ['B-ORG']")
