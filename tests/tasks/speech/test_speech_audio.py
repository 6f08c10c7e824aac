"""WAV reading: PCM widths read back to the right floats; everything else refused with one
line naming the file."""

from __future__ import annotations

import wave

import numpy as np
import pytest

from rnnkit.errors import RnnkitError
from rnnkit.tasks.speech import read_wav, write_wav
from rnnkit.tasks.speech.audio import pcm_to_float


def _raw_wav(path, frames: bytes, width: int, rate: int = 8000, channels: int = 1):
    with wave.open(str(path), "wb") as w:
        w.setnchannels(channels)
        w.setsampwidth(width)
        w.setframerate(rate)
        w.writeframes(frames)
    return path


def test_16_bit_round_trip(tmp_path):
    x = np.array([0.0, 0.5, -0.5, 0.999, -1.0], dtype=np.float32)
    y = read_wav(write_wav(tmp_path / "a.wav", x, 8000), 8000)
    assert y.dtype == np.float32 and np.allclose(y, x, atol=1 / 32767)


def test_8_and_24_bit_samples_by_hand(tmp_path):
    assert np.allclose(pcm_to_float(bytes([128, 255, 0]), 1), [0.0, 127 / 128, -1.0])
    # 24-bit little-endian: 0x400000 = 0.5, 0xC00000 = -0.5
    raw = bytes([0, 0, 0x40, 0, 0, 0xC0])
    assert np.allclose(read_wav(_raw_wav(tmp_path / "a.wav", raw, 3)), [0.5, -0.5])


def _refused(path, match, rate=8000):
    with pytest.raises(RnnkitError, match=match) as err:
        read_wav(path, rate)
    assert str(path) in str(err.value) and "\n" not in str(err.value)


def test_stereo_is_refused(tmp_path):
    _refused(_raw_wav(tmp_path / "s.wav", b"\0\0" * 8, 2, channels=2), "2 channels")


def test_other_sample_rate_is_refused_not_resampled(tmp_path):
    path = write_wav(tmp_path / "r.wav", np.zeros(100), 16000)
    _refused(path, "sampled at 16000 Hz; expected 8000 Hz")


def test_truncated_file_is_refused(tmp_path):
    path = write_wav(tmp_path / "t.wav", np.zeros(1000), 8000)
    path.write_bytes(path.read_bytes()[:-500])
    _refused(path, "truncated")


@pytest.mark.parametrize("content", [b"", b"not audio at all", b"RIFF\0\0\0\0WAVEjunk"])
def test_non_wav_files_are_refused(tmp_path, content):
    (tmp_path / "x.wav").write_bytes(content)
    _refused(tmp_path / "x.wav", "not a readable PCM WAV file")


def test_empty_and_missing_files(tmp_path):
    _refused(_raw_wav(tmp_path / "e.wav", b"", 2), "no audio")
    _refused(tmp_path / "nope.wav", "no such file")
