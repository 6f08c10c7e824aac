"""Audio to features with torch: power spectrum (``torch.stft``), log-mel filterbank, MFCC.

``Features(sample_rate, kind, n_mels, n_mfcc, win_ms, hop_ms)`` computes, for audio at
``sample_rate``, frames of ``win_ms`` milliseconds (periodic Hann window, centred inside an FFT
of the next power of two) every ``hop_ms``; a frame is computed only where the whole FFT span
lies inside the audio (``torch.stft(center=False)``), so frame t depends on samples
[t * hop, t * hop + n_fft) and on nothing later: the streaming recognizer computes the same
frames from chunks of audio. A recording shorter than one FFT span is padded with zeros to one.

Log-mel: ``log(mel power + 1e-6)`` with the Slaney-style mel filterbank (librosa's default:
``librosa.filters.mel(htk=False, norm="slaney")``, which the tests compare it with). MFCC: the
orthonormal DCT-II of the log-mel frame, first ``n_mfcc`` coefficients (``librosa.feature.mfcc``
on the same log-mel input). ``normalize_utterance`` gives every feature zero mean and unit
variance over the valid frames of its own utterance.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import torch
from torch import Tensor

__all__ = [
    "FEATURE_KINDS",
    "LOG_FLOOR",
    "Features",
    "dct_matrix",
    "hz_to_mel",
    "mel_filterbank",
    "mel_to_hz",
    "normalize_utterance",
]

FEATURE_KINDS = ("logmel", "mfcc")
LOG_FLOOR = 1e-6  # added to the mel power before the log (digital silence stays finite)
_F_SP = 200.0 / 3  # Slaney mel scale: Hz per mel below 1 kHz
_MIN_LOG_HZ, _LOGSTEP = 1000.0, math.log(6.4) / 27.0  # above 1 kHz: log-spaced mels


def hz_to_mel(hz: np.ndarray) -> np.ndarray:
    """Slaney's mel scale: linear below 1 kHz (3 mels per 200 Hz), logarithmic above."""
    hz = np.asarray(hz, dtype=np.float64)
    mel = hz / _F_SP
    high = hz >= _MIN_LOG_HZ
    return np.where(
        high, _MIN_LOG_HZ / _F_SP + np.log(np.maximum(hz, 1e-12) / _MIN_LOG_HZ) / _LOGSTEP, mel
    )


def mel_to_hz(mel: np.ndarray) -> np.ndarray:
    """The inverse of ``hz_to_mel``."""
    mel = np.asarray(mel, dtype=np.float64)
    min_log_mel = _MIN_LOG_HZ / _F_SP
    return np.where(
        mel >= min_log_mel, _MIN_LOG_HZ * np.exp(_LOGSTEP * (mel - min_log_mel)), _F_SP * mel
    )


def mel_filterbank(
    sample_rate: int, n_fft: int, n_mels: int, fmin: float = 0.0, fmax: float | None = None
) -> np.ndarray:
    """(n_mels, n_fft // 2 + 1) triangular filters, centres evenly spaced in mels between
    ``fmin`` and ``fmax`` (default: Nyquist), each scaled to unit area in Hz (Slaney)."""
    fmax = sample_rate / 2 if fmax is None else fmax
    freqs = np.linspace(0, sample_rate / 2, n_fft // 2 + 1)  # (K,) frequency of each FFT bin
    edges = mel_to_hz(np.linspace(hz_to_mel(fmin), hz_to_mel(fmax), n_mels + 2))  # (M + 2,)
    widths = np.diff(edges)  # (M + 1,)
    ramps = edges[:, None] - freqs[None, :]  # (M + 2, K)
    rising = -ramps[:-2] / widths[:-1, None]  # left slope of filter m, 0 at its left edge
    falling = ramps[2:] / widths[1:, None]  # right slope, 0 at its right edge
    weights = np.maximum(0.0, np.minimum(rising, falling))  # (M, K)
    return weights * (2.0 / (edges[2:] - edges[:-2]))[:, None]


def dct_matrix(n_mfcc: int, n_mels: int) -> np.ndarray:
    """(n_mfcc, n_mels) orthonormal DCT-II: ``c = D @ x`` (scipy's ``dct(x, norm="ortho")``)."""
    k = np.arange(n_mfcc)[:, None]
    n = np.arange(n_mels)[None, :]
    d = np.cos(np.pi * k * (2 * n + 1) / (2 * n_mels)) * math.sqrt(2.0 / n_mels)
    d[0] /= math.sqrt(2.0)
    return d


def normalize_utterance(x: Tensor, lengths: Tensor) -> Tensor:
    """x (B, T, F) with valid frames t < lengths[b]: each utterance's features to zero mean,
    unit variance over its valid frames (padding stays 0)."""
    mask = (torch.arange(x.shape[1])[None, :] < lengths[:, None]).to(x.dtype)[..., None]
    n = lengths.to(x.dtype)[:, None, None]  # (B, 1, 1)
    mean = (x * mask).sum(1, keepdim=True) / n  # (B, 1, F)
    var = (((x - mean) * mask) ** 2).sum(1, keepdim=True) / n
    return (x - mean) / torch.sqrt(var + 1e-5) * mask


class Features:
    """Log-mel or MFCC frames of mono audio (see the module docstring)."""

    def __init__(
        self,
        sample_rate: int = 8000,
        kind: str = "logmel",
        n_mels: int = 40,
        n_mfcc: int = 13,
        win_ms: float = 25.0,
        hop_ms: float = 10.0,
    ) -> None:
        if kind not in FEATURE_KINDS:
            raise ValueError(f"features must be one of {', '.join(FEATURE_KINDS)}; got {kind}")
        self.sample_rate, self.kind = sample_rate, kind
        self.win = round(sample_rate * win_ms / 1000)  # samples per window
        self.hop = round(sample_rate * hop_ms / 1000)  # samples between frame starts
        self.n_fft = 1 << max(0, self.win - 1).bit_length()  # next power of two >= win
        self.window = torch.hann_window(self.win)
        fb = mel_filterbank(sample_rate, self.n_fft, n_mels)
        self.filters = torch.from_numpy(fb).float()  # (M, K)
        self.dct = torch.from_numpy(dct_matrix(n_mfcc, n_mels)).float() if kind == "mfcc" else None
        self.dim = n_mfcc if kind == "mfcc" else n_mels  # F, features per frame

    def frames(self, n_samples: int) -> int:
        """Frames of a recording of ``n_samples`` samples (at least one)."""
        return 1 + max(0, n_samples - self.n_fft) // self.hop

    def power(self, audio: Tensor) -> Tensor:
        """audio (B, N) with N >= n_fft -> power spectrum (B, T, K), float32."""
        spec = torch.stft(
            audio.float(), self.n_fft, self.hop, self.win, self.window,
            center=False, return_complex=True,
        )  # fmt: skip
        return spec.abs().pow(2).transpose(1, 2)

    def __call__(self, audio: Tensor) -> Tensor:
        """audio (B, N) float -> features (B, T, F) float32, T = ``frames(N)``."""
        if audio.shape[-1] < self.n_fft:
            audio = torch.nn.functional.pad(audio, (0, self.n_fft - audio.shape[-1]))
        mel = self.power(audio) @ self.filters.T  # (B, T, M)
        out = torch.log(mel + LOG_FLOOR)
        if self.dct is not None:
            out = out @ self.dct.T  # (B, T, n_mfcc)
        return out

    def batch(self, audio: Sequence[np.ndarray]) -> tuple[Tensor, Tensor]:
        """Recordings of any lengths -> (features (B, T, F) zero past each length, frames (B,))."""
        longest = max(max(len(a) for a in audio), self.n_fft)
        padded = np.zeros((len(audio), longest), dtype=np.float32)
        for i, a in enumerate(audio):
            padded[i, : len(a)] = a
        lengths = torch.tensor([self.frames(len(a)) for a in audio], dtype=torch.int64)
        x = self(torch.from_numpy(padded))
        mask = torch.arange(x.shape[1])[None, :] < lengths[:, None]
        return x * mask[..., None], lengths
