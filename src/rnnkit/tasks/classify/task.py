"""``ClassifyTask``: the Trainer's view of text classification, and evaluation of a split.

Training: step ``s`` takes this rank's rows of global batch ``s`` (``ShuffledBatches``), no
state carries between steps; with ``word_dropout`` each token of the batch is replaced by
``<unk>`` with that probability (the draw uses torch's RNG, which checkpoints hold, so resume
stays exact). Validation reports ``loss`` (mean BCE / cross-entropy) and
``error`` (1 - accuracy), both lower-is-better as the Trainer monitors them.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from torch import nn

from ...train import StepResult
from .batches import EncodedTexts, ShuffledBatches
from .model import class_probabilities, classification_loss, valid_steps

__all__ = ["ClassifyTask", "predict_split"]

EVAL_BATCH = 256  # examples per forward pass when evaluating


@torch.no_grad()
def predict_split(
    model: nn.Module, data: EncodedTexts, device: torch.device
) -> tuple[np.ndarray, float]:
    """(class probabilities (N, C) in the order of ``data``, summed loss) in eval mode."""
    was_training = model.training
    model.eval()
    order = torch.argsort(data.lengths, stable=True)  # similar lengths together
    probs, total = [], 0.0
    for start in range(0, len(order), EVAL_BATCH):
        x, lengths, labels = data.rows(order[start : start + EVAL_BATCH])
        logits = model(x.to(device), lengths)
        if len(labels):
            total += classification_loss(logits, labels.to(device), reduction="sum").item()
        probs.append(class_probabilities(logits).double().cpu())
    model.train(was_training)
    out = torch.empty(len(order), probs[0].shape[1], dtype=torch.float64)
    out[order] = torch.cat(probs)
    return out.numpy(), total


class ClassifyTask:
    """The ``Task`` of text classification (see the module docstring)."""

    def __init__(
        self,
        train: EncodedTexts,
        batches: ShuffledBatches,
        val: EncodedTexts,
        device: torch.device,
        word_dropout: float = 0.0,
        unk: int = 1,
    ) -> None:
        self.train, self.batches, self.val, self.device = train, batches, val, device
        self.word_dropout, self.unk = word_dropout, unk  # rate, and the id that replaces
        self.labels = {  # the axes of curves.png
            "loss": "cross-entropy (nats per example)",
            "error": "error rate (1 - accuracy)",
        }

    def steps_per_epoch(self) -> int:
        return self.batches.steps_per_epoch

    def train_step(self, model: nn.Module, step: int, carry: Any) -> StepResult:
        x, lengths, labels = self.train.rows(self.batches.indices(step))
        x = x.to(self.device)  # (b, t)
        if self.word_dropout > 0:
            drop = torch.rand(x.shape, device=x.device) < self.word_dropout
            x = x.masked_fill(drop & valid_steps(lengths.to(x.device), x.shape[1]), self.unk)
        logits = model(x, lengths)  # (b, K)
        loss = classification_loss(logits, labels.to(self.device))
        return StepResult(loss, None, len(labels))

    def evaluate(self, model: nn.Module) -> dict[str, float]:
        probs, total = predict_split(model, self.val, self.device)
        correct = (probs.argmax(axis=1) == self.val.labels.numpy()).mean()
        return {"loss": total / len(self.val), "error": float(1.0 - correct)}
