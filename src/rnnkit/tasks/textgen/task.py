"""``TextgenTask``: next-token cross-entropy on carried-state chunks, and validation in nats.

Training: step ``s`` reads chunk ``s mod chunks`` of every stream (``StreamBatches``); the
state from the previous chunk is carried in, detached, and reset at each epoch's first chunk
and, with probability ``reset_prob``, for single streams at any chunk: sampling starts from the
zero state, and a model that never saw it mid-text writes junk until its state settles.
Validation: the held-out stream in side-by-side rows, state carried across all of it, reported
as ``loss`` (nats/token) plus ``bits_per_char`` (char level) or ``perplexity`` (word level).
"""

from __future__ import annotations

import math
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ...train import StepResult, map_carry
from .data import StreamBatches, eval_chunks

__all__ = ["TextgenTask"]


class TextgenTask:
    """The ``Task`` of char/word language modelling (see the module docstring)."""

    def __init__(
        self,
        train: StreamBatches,
        val_ids: Tensor,
        level: str,
        device: torch.device,
        eval_tokens: int = 0,
        reset_prob: float = 0.0,
        seed: int = 0,
    ) -> None:
        self.train, self.level, self.device = train, level, device
        self.reset_prob, self.seed = reset_prob, seed
        self.val_ids = val_ids[: eval_tokens + 1] if eval_tokens > 0 else val_ids
        self.labels = {  # the axes of curves.png
            "loss": "cross-entropy (nats per token)",
            "bits_per_char": "bits per character",
            "perplexity": "perplexity (e ** nats per token)",
        }

    def steps_per_epoch(self) -> int:
        return self.train.chunks

    def train_step(self, model: nn.Module, step: int, carry: Any) -> StepResult:
        x, y, starts_epoch = self.train.batch(step)
        x, y = x.to(self.device), y.to(self.device)  # (B, T)
        if starts_epoch:
            carry = None
        elif carry is not None and self.reset_prob > 0:
            keep = self.train.keep_state(step, self.reset_prob, self.seed).to(self.device)
            carry = map_carry(lambda s: s * keep.view(1, -1, 1).to(s.dtype), carry)  # (L, B, H)
        logits, state = model(x, carry)  # (B, T, V)
        loss = F.cross_entropy(logits.flatten(0, 1), y.flatten())
        return StepResult(loss, map_carry(Tensor.detach, state), x.numel())

    def evaluate(self, model: nn.Module) -> dict[str, float]:
        total, count, state = 0.0, 0, None
        for x, y in eval_chunks(self.val_ids, self.train.T):
            logits, state = model(x.to(self.device), state)
            loss = F.cross_entropy(
                logits.flatten(0, 1), y.to(self.device).flatten(), reduction="sum"
            )
            total, count = total + loss.item(), count + y.numel()
        nats = total / count
        if self.level == "char":
            return {"loss": nats, "bits_per_char": nats / math.log(2)}
        return {"loss": nats, "perplexity": math.exp(min(nats, 700.0))}
