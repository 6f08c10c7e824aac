"""Reading WAV files with the standard library's ``wave`` module: mono PCM at one sample rate.

``read_wav(path, sample_rate)`` returns the samples as float32 in [-1, 1]. Everything a user
can hand it that is not such a file fails with ``RnnkitError`` naming the file: a missing file,
a file that is not a RIFF/WAVE file, a compressed or float encoding ``wave`` cannot read,
stereo audio, a truncated file (fewer frames than its header promises), no audio at all, and a
sample rate other than the one asked for.

Another sample rate is refused, not resampled: a resampler is a choice (filter length, phase,
aliasing) that changes what the model hears, and a model trained at 8 kHz should not silently
accept 44.1 kHz audio. The message says how to convert the file (``sox in.wav -r 8000
out.wav``) or to train with ``--sample-rate``.
"""

from __future__ import annotations

import os
import wave
from pathlib import Path

import numpy as np

from ...errors import RnnkitError

__all__ = ["pcm_to_float", "read_wav", "write_wav"]

_DTYPES = {1: np.uint8, 2: np.int16, 4: np.int32}  # sample width (bytes) -> PCM integer type


def pcm_to_float(raw: bytes, width: int) -> np.ndarray:
    """Little-endian PCM bytes of ``width`` bytes per sample -> float32 samples in [-1, 1)."""
    if width == 3:  # 24-bit: widen each sample to 32 bits (low byte zero)
        b = np.frombuffer(raw, dtype=np.uint8).reshape(-1, 3)
        wide = np.zeros((len(b), 4), dtype=np.uint8)
        wide[:, 1:] = b
        return (wide.view("<i4")[:, 0] / 2.0**31).astype(np.float32)
    x = np.frombuffer(raw, dtype=np.dtype(_DTYPES[width]).newbyteorder("<"))
    if width == 1:  # 8-bit WAV is unsigned, centred on 128
        return ((x.astype(np.float32) - 128.0) / 128.0).astype(np.float32)
    return (x / float(2 ** (8 * width - 1))).astype(np.float32)


def read_wav(path: str | os.PathLike, sample_rate: int | None = None) -> np.ndarray:
    """The samples (N,) float32 of the mono PCM WAV file ``path``; with ``sample_rate``, the
    file must be at that rate (see the module docstring for every refusal)."""
    p = Path(path)
    if not p.is_file():
        raise RnnkitError(f"{path}: no such file")
    try:
        with wave.open(str(p), "rb") as w:
            channels, width, rate = w.getnchannels(), w.getsampwidth(), w.getframerate()
            declared = w.getnframes()
            raw = w.readframes(declared)
    except (wave.Error, EOFError) as exc:
        raise RnnkitError(f"{path}: not a readable PCM WAV file ({exc})") from None
    if channels != 1:
        raise RnnkitError(
            f"{path}: {channels} channels; rnnkit speech reads mono audio: mix it down first "
            "(e.g. sox in.wav -c 1 out.wav)"
        )
    if width not in (1, 2, 3, 4):
        raise RnnkitError(f"{path}: {8 * width}-bit samples; expected 8, 16, 24 or 32-bit PCM")
    got = len(raw) // width
    if got < declared:
        raise RnnkitError(
            f"{path}: truncated: its header promises {declared} samples, the file holds {got}"
        )
    if got == 0:
        raise RnnkitError(f"{path}: holds no audio (0 samples)")
    if sample_rate is not None and rate != sample_rate:
        raise RnnkitError(
            f"{path}: sampled at {rate} Hz; expected {sample_rate} Hz (--sample-rate): "
            f"resample it (e.g. sox in.wav -r {sample_rate} out.wav) or train with "
            f"--sample-rate {rate}"
        )
    return pcm_to_float(raw[: got * width], width)


def write_wav(path: str | os.PathLike, audio: np.ndarray, sample_rate: int) -> Path:
    """Write float samples in [-1, 1] (N,) as a mono 16-bit PCM WAV file; returns its path."""
    pcm = np.clip(np.round(np.asarray(audio, dtype=np.float64) * 32767), -32768, 32767)
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(sample_rate)
        w.writeframes(pcm.astype("<i2").tobytes())
    return Path(path)
