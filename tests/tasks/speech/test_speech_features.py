"""Features against librosa (the test extra): the mel filterbank, the mel power spectrogram,
MFCC; utterance normalization by hand."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from rnnkit.tasks.speech import Features, dct_matrix, mel_filterbank, normalize_utterance
from rnnkit.tasks.speech.features import LOG_FLOOR

librosa = pytest.importorskip("librosa", reason="librosa (the test extra) checks the features")


@pytest.mark.parametrize(
    ("rate", "n_fft", "n_mels", "fmin", "fmax"),
    [(8000, 256, 40, 0.0, None), (16000, 512, 80, 20.0, 7600.0), (8000, 256, 23, 100.0, 3800.0)],
)
def test_mel_filterbank_matches_librosa(rate, n_fft, n_mels, fmin, fmax):
    ours = mel_filterbank(rate, n_fft, n_mels, fmin, fmax)
    theirs = librosa.filters.mel(sr=rate, n_fft=n_fft, n_mels=n_mels, fmin=fmin, fmax=fmax)
    assert np.allclose(ours, theirs, rtol=1e-5, atol=1e-8)


def _signal(n=4321, seed=0):
    rng = np.random.default_rng(seed)
    t = np.arange(n) / 8000
    return (0.3 * np.sin(2 * np.pi * 440 * t) + 0.05 * rng.standard_normal(n)).astype(np.float32)


def test_log_mel_matches_librosa_melspectrogram():
    y, f = _signal(), Features(8000, "logmel", n_mels=40)
    ours = f(torch.from_numpy(y)[None])[0].numpy()  # (T, M)
    power = librosa.feature.melspectrogram(
        y=y.astype(np.float64), sr=8000, n_fft=256, hop_length=80, win_length=200,
        center=False, n_mels=40, power=2.0,
    )  # fmt: skip
    assert ours.shape == power.T.shape == (f.frames(len(y)), 40)
    assert np.allclose(ours, np.log(power.T + LOG_FLOOR), atol=1e-4)


def test_mfcc_is_librosas_dct_of_the_log_mel():
    y = torch.from_numpy(_signal())[None]
    logmel = Features(8000, "logmel", n_mels=40)(y)[0].numpy()
    ours = Features(8000, "mfcc", n_mels=40, n_mfcc=13)(y)[0].numpy()
    theirs = librosa.feature.mfcc(S=logmel.T.astype(np.float64), n_mfcc=13, norm="ortho")
    assert np.allclose(ours, theirs.T, atol=1e-4)
    d = dct_matrix(40, 40)
    assert np.allclose(d @ d.T, np.eye(40))  # orthonormal


def test_frames_and_a_recording_shorter_than_one_fft():
    f = Features(8000)  # 200-sample window in a 256-point FFT, hop 80
    assert (f.win, f.hop, f.n_fft) == (200, 80, 256)
    assert [f.frames(n) for n in (10, 256, 335, 336, 1000)] == [1, 1, 1, 2, 10]
    x, lengths = f.batch([np.ones(10, np.float32), _signal(1000)])
    assert x.shape == (2, 10, 40) and lengths.tolist() == [1, 10]
    assert torch.all(x[0, 1:] == 0)  # padding frames are zero


def test_batch_frames_equal_each_recording_alone():
    f, a, b = Features(8000, "mfcc"), _signal(3000, 1), _signal(1234, 2)
    x, lengths = f.batch([a, b])
    alone = f(torch.from_numpy(b)[None])[0]
    assert torch.allclose(x[1, : lengths[1]], alone, atol=1e-5)


def test_normalize_utterance_by_hand():
    x = torch.tensor([[[1.0, 10.0], [3.0, 10.0], [99.0, 99.0]]])  # third frame is padding
    out = normalize_utterance(x, torch.tensor([2]))
    expected = torch.tensor([[[-1.0, 0.0], [1.0, 0.0], [0.0, 0.0]]])
    assert torch.allclose(out, expected, atol=1e-4)
