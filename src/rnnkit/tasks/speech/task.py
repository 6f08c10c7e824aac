"""``SpeechTask``: the Trainer's view of CTC speech recognition, and recognizing a set of audio.

Training: step ``s`` draws the global batch of fresh connected utterances of step ``s``
(``compose.StepUtterances``), this rank takes its rows, computes their features, and returns
the mean CTC loss. Validation reports ``loss`` (CTC, nats per symbol), ``ser`` (symbol error
rate) and ``wer`` (word error rate) of greedy transcripts of the fixed validation utterances,
all lower-is-better as the Trainer monitors them.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
from torch import nn

from ...train import StepResult
from .compose import StepUtterances, Utterance
from .data import Alphabet
from .decode import decode
from .features import Features
from .metrics import error_rate
from .model import ctc_loss

__all__ = ["EVAL_BATCH", "Recognized", "SpeechTask", "recognize"]

EVAL_BATCH = 32  # utterances per forward pass when recognizing


class Recognized:
    """Transcripts (symbol ids) of a set of audio, their log-probabilities, summed CTC loss."""

    def __init__(self, n: int) -> None:
        self.hyps: list[tuple[int, ...]] = [()] * n
        self.log_probs: list[np.ndarray] = [np.zeros((0, 0))] * n  # (T', C) each
        self.loss = 0.0  # summed over utterances (targets given), per-symbol means


@torch.no_grad()
def recognize(
    model: nn.Module,
    features: Features,
    audio: Sequence[np.ndarray],
    beam: int = 1,
    targets: Sequence[tuple[int, ...]] | None = None,
) -> Recognized:
    """Transcribe every recording of ``audio`` in eval mode (batches of similar lengths)."""
    was_training = model.training
    model.eval()
    out = Recognized(len(audio))
    order = np.argsort([len(a) for a in audio], kind="stable")
    for start in range(0, len(order), EVAL_BATCH):
        rows = order[start : start + EVAL_BATCH]
        feats, lengths = features.batch([audio[i] for i in rows])
        lp, out_lengths = model(feats, lengths)
        if targets is not None:
            loss = ctc_loss(lp, out_lengths, [targets[i] for i in rows])
            out.loss += loss.item() * len(rows)
        for j, i in enumerate(rows):
            out.log_probs[i] = lp[j, : out_lengths[j]].double().numpy()
            out.hyps[i] = decode(out.log_probs[i], beam)
    model.train(was_training)
    return out


def rates(alphabet: Alphabet, refs, hyps) -> dict[str, float]:
    """Symbol and word error rates of ``hyps`` against ``refs`` (symbol id sequences)."""
    return {
        "ser": error_rate(refs, hyps),
        "wer": error_rate(refs, hyps, alphabet.words),
    }


class SpeechTask:
    """The ``Task`` of CTC speech recognition (see the module docstring)."""

    def __init__(
        self,
        sampler: StepUtterances,
        batch_size: int,
        rows: slice,
        features: Features,
        val: list[Utterance],
        alphabet: Alphabet,
        epoch_steps: int,
    ) -> None:
        self.sampler, self.batch_size, self.rows = sampler, batch_size, rows
        self.features, self.val, self.alphabet = features, val, alphabet
        self.epoch_steps = epoch_steps
        self.labels = {  # the axes of curves.png
            "loss": "CTC loss (nats per symbol)",
            "wer": "word error rate",
            "ser": "symbol error rate",
        }

    def steps_per_epoch(self) -> int:
        return self.epoch_steps

    def train_step(self, model: nn.Module, step: int, carry: Any) -> StepResult:
        utterances = self.sampler.batch(step, self.batch_size)[self.rows]
        feats, lengths = self.features.batch([u.audio for u in utterances])
        lp, out_lengths = model(feats, lengths)  # (b, T', C)
        loss = ctc_loss(lp, out_lengths, [u.symbols for u in utterances])
        return StepResult(loss, None, int(lengths.sum()))

    def evaluate(self, model: nn.Module) -> dict[str, float]:
        refs = [u.symbols for u in self.val]
        got = recognize(model, self.features, [u.audio for u in self.val], 1, refs)
        return {"loss": got.loss / len(refs), **rates(self.alphabet, refs, got.hyps)}
