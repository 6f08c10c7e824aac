"""Using a trained recognizer: ``load_recognizer(path).transcribe(paths_or_arrays)``, and
streaming recognition of a unidirectional model.

The checkpoint holds everything: the run's config (features, alphabet, model shape) and the
weights (with the global normalization's statistics), so a run directory (best.pt, else
last.pt) or a .pt file is all it takes:

    >>> rec = load_recognizer("runs/speech")
    >>> rec.transcribe(["4_jackson_0.wav", samples_at_8khz])
    ['4', '...']

``Recognizer.stream()`` gives a ``Stream``: ``feed(samples)`` with the next chunk of audio
returns the transcript so far, ``finish()`` the final one. Audio frames are computed as soon
as their whole FFT span has arrived, the model carries its hidden states from chunk to chunk,
and the decoder its prefixes, so the final transcript is the offline one of the same audio.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from ...errors import CheckpointError, RnnkitError
from ...train.recipe import load_task_checkpoint
from .audio import read_wav
from .config import SpeechConfig
from .data import Alphabet
from .decode import make_decoder
from .features import Features
from .model import SpeechModel
from .run import build_model, make_features
from .task import recognize

__all__ = ["Recognizer", "Stream", "load_recognizer"]


class Stream:
    """Incremental recognition of one utterance (see the module docstring)."""

    def __init__(self, recognizer: Recognizer, beam: int = 1) -> None:
        self.rec, self.decoder = recognizer, make_decoder(beam)
        self.buffer = np.zeros(0, dtype=np.float32)  # samples not yet past every frame's span
        self.samples, self.frames = 0, 0  # received so far, frames computed so far
        self.state: dict[str, Any] | None = None  # the model's carried state

    def _run(self, feats: torch.Tensor) -> None:
        with torch.no_grad():
            lp, self.state = self.rec.model.stream(feats, self.state)
        self.decoder.feed(lp[0].double().numpy())

    def feed(self, audio: np.ndarray) -> str:
        """Take the next samples (n,) float; returns the transcript so far."""
        f = self.rec.features
        self.buffer = np.concatenate([self.buffer, np.asarray(audio, dtype=np.float32)])
        self.samples += len(audio)
        if len(self.buffer) >= f.n_fft:
            k = f.frames(len(self.buffer))  # frames whose whole span is here
            span = (k - 1) * f.hop + f.n_fft
            self._run(f(torch.from_numpy(self.buffer[:span])[None]))
            self.buffer, self.frames = self.buffer[k * f.hop :], self.frames + k
        return self.text()

    def finish(self) -> str:
        """The final transcript (a recording shorter than one FFT span gets its one frame)."""
        if self.frames == 0 and self.samples > 0:
            self._run(self.rec.features(torch.from_numpy(self.buffer)[None]))
            self.frames = 1
        return self.text()

    def text(self) -> str:
        """The transcript so far."""
        return self.rec.alphabet.decode(self.decoder.best())


@dataclass
class Recognizer:
    """A trained ``SpeechModel`` with its feature extractor and alphabet (eval mode, CPU)."""

    model: SpeechModel
    features: Features
    alphabet: Alphabet
    config: SpeechConfig  # the run's data, feature and model options
    checkpoint: dict[str, Any]  # the checkpoint it came from

    def load_audio(self, item: str | os.PathLike | np.ndarray) -> np.ndarray:
        """Samples (N,) of a WAV path (at the model's rate) or of a 1-D array of samples."""
        if isinstance(item, np.ndarray | torch.Tensor):
            audio = np.asarray(item, dtype=np.float32)
            if audio.ndim != 1 or audio.size == 0:
                raise RnnkitError(f"expected a 1-D array of samples; got shape {audio.shape}")
            return audio
        return read_wav(item, self.config.sample_rate)

    def transcribe(
        self, items: Sequence[str | os.PathLike | np.ndarray], beam: int = 1
    ) -> list[str]:
        """The transcript of every WAV path or array of samples (at ``config.sample_rate``),
        greedy (``beam`` 1) or by prefix beam search."""
        if isinstance(items, str | os.PathLike | np.ndarray):
            raise TypeError("transcribe expects a list of paths or arrays (wrap one in a list)")
        audio = [self.load_audio(item) for item in items]
        if not audio:
            return []
        got = recognize(self.model, self.features, audio, beam)
        return [self.alphabet.decode(h) for h in got.hyps]

    def stream(self, beam: int = 1) -> Stream:
        """A ``Stream`` for one utterance; needs a unidirectional model with global
        normalization (``--no-bidirectional --normalize global``)."""
        if self.config.bidirectional or self.config.normalize != "global":
            raise RnnkitError(
                "--stream needs a model trained with --no-bidirectional --normalize global; "
                f"this one is {'bidirectional' if self.config.bidirectional else 'unidirectional'}"
                f" with --normalize {self.config.normalize}"
            )
        return Stream(self, beam)


def load_recognizer(path: str | os.PathLike) -> Recognizer:
    """The recognizer saved in a run directory (best.pt, else last.pt) or a checkpoint file."""
    ckpt, p = load_task_checkpoint(path, "speech")
    try:
        cfg = SpeechConfig(**ckpt["config"]["speech"])
        features = make_features(cfg)
        model = build_model(cfg, features.dim)
        model.load_state_dict(ckpt["model"])
    except (KeyError, TypeError, ValueError, RuntimeError) as exc:
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0][:160]
        raise CheckpointError(f"{p} is not a usable speech checkpoint: {first}") from None
    model.eval()
    return Recognizer(model, features, Alphabet(cfg.alphabet), cfg, ckpt)
