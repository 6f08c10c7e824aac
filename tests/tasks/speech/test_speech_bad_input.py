"""Bad input to ``rnnkit speech``: one line on stderr naming the file, exit status 2, nothing
written or overwritten."""

from __future__ import annotations

import shutil

import numpy as np
import pytest
from speech_helpers import RATE, chirp, train_args, write_transcripts

from helpers import cli_fails
from rnnkit.tasks.speech import write_wav


def _fails_to_train(capsys, data, tmp_path, match: str, *extra) -> None:
    out = tmp_path / "out"
    cli_fails(capsys, train_args(data, out, "--steps", "2", *extra), match)
    assert not out.exists()


@pytest.fixture
def folder(tmp_path, digits):
    """A writable copy of the generated digits."""
    return shutil.copytree(digits, tmp_path / "data")


def test_no_data_flag_points_to_fsdd(capsys):
    cli_fails(capsys, ["speech", "train", "--steps", "1"], "free-spoken-digit-dataset")


def test_directory_without_wav_files(tmp_path, capsys):
    (tmp_path / "empty").mkdir()
    (tmp_path / "empty" / "notes.txt").write_text("hi")
    _fails_to_train(capsys, tmp_path / "empty", tmp_path, "no WAV files")
    _fails_to_train(capsys, tmp_path / "nope", tmp_path, "no such directory")


def test_wav_at_another_sample_rate(folder, tmp_path, capsys):
    write_wav(folder / "1_ann_99.wav", chirp(1), 16000)
    _fails_to_train(capsys, folder, tmp_path, "1_ann_99.wav: sampled at 16000 Hz")


def test_stereo_wav(folder, tmp_path, capsys):
    import wave

    with wave.open(str(folder / "2_bob_99.wav"), "wb") as w:
        w.setnchannels(2)
        w.setsampwidth(2)
        w.setframerate(RATE)
        w.writeframes(np.zeros(400, "<i2").tobytes())
    _fails_to_train(capsys, folder, tmp_path, "2_bob_99.wav: 2 channels")


@pytest.mark.parametrize("how", ["truncated", "not a wav"])
def test_truncated_or_non_wav_file(folder, tmp_path, capsys, how):
    path = folder / "0_cy_1.wav"
    data = path.read_bytes()
    path.write_bytes(data[:-300] if how == "truncated" else b"hello, I am text")
    match = "truncated" if how == "truncated" else "not a readable PCM WAV file"
    _fails_to_train(capsys, folder, tmp_path, f"0_cy_1.wav: {match}")


def test_file_without_a_transcript(folder, tmp_path, capsys):
    write_wav(folder / "hello.wav", chirp(0), RATE)
    _fails_to_train(capsys, folder, tmp_path, "hello.wav: no transcript")


def test_csv_naming_a_missing_file(folder, tmp_path, capsys):
    csv = write_transcripts(tmp_path / "t.csv", [("0_ann_0.wav", "0"), ("gone.wav", "1")])
    _fails_to_train(capsys, folder, tmp_path, "line 3: ", "--transcripts", str(csv))
    _fails_to_train(capsys, folder, tmp_path, "gone.wav: no such file", "--transcripts", str(csv))


def test_csv_with_a_symbol_outside_the_alphabet(folder, tmp_path, capsys):
    csv = write_transcripts(tmp_path / "t.csv", [("0_ann_0.wav", "0"), ("1_ann_0.wav", "1x")])
    match = "1_ann_0.wav: transcript '1x' has 'x', which is not in the alphabet"
    _fails_to_train(capsys, folder, tmp_path, match, "--transcripts", str(csv))


def test_bad_options_fail_before_reading(tmp_path, capsys, digits):
    _fails_to_train(
        capsys, digits, tmp_path, "--subsample 4 needs at least 3 --layers", "--subsample", "4"
    )
    _fails_to_train(capsys, digits, tmp_path, "--monitor must be one of", "--monitor", "bleu")
    _fails_to_train(
        capsys, digits, tmp_path, "--test-speaker zed: no such speaker", "--test-speaker", "zed"
    )


def test_a_finished_run_is_not_overwritten(trained, digits, capsys):
    before = {p.name: p.stat().st_mtime_ns for p in trained.iterdir()}
    cli_fails(capsys, train_args(digits, trained, "--steps", "2"), "")
    assert {p.name: p.stat().st_mtime_ns for p in trained.iterdir()} == before


def test_predict_bad_input(trained, tmp_path, capsys):
    write_wav(tmp_path / "fast.wav", chirp(1), 16000)
    argv = ["speech", "predict", "--checkpoint", str(trained)]
    cli_fails(capsys, [*argv, str(tmp_path / "fast.wav")], "fast.wav: sampled at 16000 Hz")
    cli_fails(capsys, [*argv, str(tmp_path / "none.wav")], "none.wav: no such file")
    cli_fails(capsys, argv, "nothing to transcribe")
    cli_fails(
        capsys, [*argv, "--beam-size", "0", str(tmp_path / "fast.wav")], "--beam-size must be"
    )
    cli_fails(capsys, ["speech", "predict", "--checkpoint", str(tmp_path), "x.wav"], "")
