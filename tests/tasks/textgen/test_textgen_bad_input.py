"""Bad input to ``rnnkit textgen``: one line on stderr, exit status 2, nothing overwritten."""

from __future__ import annotations

import pytest
import torch
from textgen_helpers import train_args

from helpers import cli_fails
from rnnkit.cli import main


def test_missing_file(tmp_path, capsys):
    cli_fails(capsys, train_args(tmp_path / "nope.txt", tmp_path / "out"), "no such file")


def test_empty_file(tmp_path, capsys):
    (tmp_path / "empty.txt").write_text("\n  \n")
    cli_fails(capsys, train_args(tmp_path / "empty.txt", tmp_path / "out"), "empty")


def test_non_utf8_file_suggests_encoding_and_encoding_works(tmp_path, capsys, corpus):
    path = tmp_path / "latin1.txt"
    path.write_bytes(corpus.read_text().replace("the", "thé").encode("latin-1"))
    cli_fails(capsys, train_args(path, tmp_path / "out"), "--encoding")
    assert not (tmp_path / "out").exists()
    argv = train_args(path, tmp_path / "out", "--encoding", "latin-1", "--steps", "1")
    assert main(argv) == 0


def test_corpus_shorter_than_one_sequence(tmp_path, capsys):
    (tmp_path / "short.txt").write_text("To be, or not to be.\n" * 2)
    cli_fails(capsys, train_args(tmp_path / "short.txt", tmp_path / "out"), "one batch needs")


def test_unknown_encoding(tmp_path, capsys, corpus):
    cli_fails(capsys, train_args(corpus, tmp_path / "o", "--encoding", "klingon"), "unknown text")


def test_resume_of_another_configuration_overwrites_nothing(trained, corpus, capsys):
    before = {p.name: p.read_bytes() for p in trained.iterdir()}
    argv = train_args(corpus, trained, "--steps", "8", "--resume")
    argv[argv.index("--hidden") + 1] = "32"
    cli_fails(capsys, argv, "--hidden 16 (now 32)")
    assert {p.name: p.read_bytes() for p in trained.iterdir()} == before


def test_resume_on_other_text_is_refused(trained, tmp_path, capsys, corpus):
    other = tmp_path / "other.txt"
    other.write_text(corpus.read_text()[::-1])
    cli_fails(capsys, train_args(other, trained, "--steps", "8", "--resume"), "other data")


def test_resume_with_nothing_to_resume(tmp_path, corpus, capsys):
    cli_fails(capsys, train_args(corpus, tmp_path / "empty", "--resume"), "no last.pt")


def test_new_run_into_a_used_directory_is_refused(trained, corpus, capsys):
    before = (trained / "last.pt").read_bytes()
    cli_fails(capsys, train_args(corpus, trained, "--steps", "2"), "--resume to continue")
    assert (trained / "last.pt").read_bytes() == before


def test_steps_and_epochs_together(tmp_path, corpus, capsys):
    argv = train_args(corpus, tmp_path / "o", "--steps", "2", "--epochs", "1")
    cli_fails(capsys, argv, "not both")


def test_prompt_outside_char_vocabulary_explains(trained, capsys):
    argv = ["textgen", "sample", "--checkpoint", str(trained), "--prompt", "me ë~", "--length", "5"]
    cli_fails(capsys, argv, "never saw: 'ë' '~'")


def test_word_level_maps_unknown_prompt_words_to_unk(corpus, tmp_path, capsys):
    out = tmp_path / "word"
    assert main(train_args(corpus, out, "--level", "word", "--steps", "2")) == 0
    capsys.readouterr()
    argv = [
        "textgen",
        "sample",
        "--checkpoint",
        str(out),
        "--prompt",
        "Xylophone the",
        "--seed",
        "1",
    ]
    assert main([*argv, "--length", "6"]) == 0
    assert capsys.readouterr().out.startswith("Xylophone the")


@pytest.mark.parametrize("content", [b"", b"PK\x03\x04 truncated zip", b"\x80\x02garbage"])
def test_sample_from_a_corrupt_checkpoint(tmp_path, capsys, content):
    (tmp_path / "last.pt").write_bytes(content)
    cli_fails(capsys, ["textgen", "sample", "--checkpoint", str(tmp_path)], "not a readable rnnkit")


def test_sample_from_a_foreign_checkpoint(tmp_path, capsys):
    torch.save({"weights": torch.zeros(3)}, tmp_path / "model.pt")
    argv = ["textgen", "sample", "--checkpoint", str(tmp_path / "model.pt")]
    cli_fails(capsys, argv, "not an rnnkit checkpoint")


def test_sample_from_a_missing_directory(tmp_path, capsys):
    cli_fails(capsys, ["textgen", "sample", "--checkpoint", str(tmp_path / "x")], "no checkpoint")
