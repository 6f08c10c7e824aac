"""``TranslateTask``: the Trainer's view of sequence-to-sequence learning.

Training: step ``s`` takes this rank's rows of global batch ``s`` (``ShuffledBatches``:
a seeded permutation per epoch, sources of similar length batched together), runs the
decoder over the whole target with teacher forcing (ratio ``teacher_forcing``; the draws use
torch's RNG, which checkpoints hold, so resume stays exact), and returns the label-smoothed
cross-entropy per target token (padding ignored). Under torchrun each rank divides its
summed loss by its share of the target tokens of the whole global batch, so the averaged
gradient is the one-process gradient even where the ranks' token counts differ. Validation
reports ``wer`` and ``per`` of greedy decoding on the distinct validation sources, and
``loss``, the plain cross-entropy per target token under teacher forcing: all
lower-is-better, as the Trainer monitors them.
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ...train import StepResult
from ..classify.batches import ShuffledBatches
from .decode import score_heldout
from .pairs import EncodedPairs, Heldout
from .vocab import PAD, SeqVocab

__all__ = ["TranslateTask", "sequence_loss"]

LOSS_BATCH = 256  # pairs per forward pass of the validation loss


def sequence_loss(
    logits: Tensor, target: Tensor, label_smoothing: float = 0.0, reduction: str = "mean"
) -> Tensor:
    """Cross-entropy of logits (B, T, V) against target ids (B, T), <pad> ignored."""
    return F.cross_entropy(
        logits.reshape(-1, logits.shape[-1]), target.reshape(-1), ignore_index=PAD,
        label_smoothing=label_smoothing, reduction=reduction,
    )  # fmt: skip


class TranslateTask:
    """The ``Task`` of sequence-to-sequence training (see the module docstring)."""

    def __init__(
        self,
        train: EncodedPairs,
        batches: ShuffledBatches,
        val: Heldout,
        vocabs: tuple[SeqVocab, SeqVocab],
        device: torch.device,
        teacher_forcing: float = 1.0,
        label_smoothing: float = 0.0,
        max_length: int | None = None,
        world_size: int = 1,
    ) -> None:
        self.train, self.batches, self.val, self.vocabs = train, batches, val, vocabs
        self.device, self.teacher_forcing = device, teacher_forcing
        self.label_smoothing, self.max_length = label_smoothing, max_length
        self.world_size = world_size
        self._epoch: tuple[int, Tensor] | None = None  # (epoch, target tokens of its batches)
        self.labels = {  # the axes of curves.png
            "loss": "cross-entropy (nats per target token)",
            "wer": "word (sequence) error rate, greedy",
            "per": "token (phoneme) error rate, greedy",
        }

    def steps_per_epoch(self) -> int:
        return self.batches.steps_per_epoch

    def train_step(self, model: nn.Module, step: int, carry: Any) -> StepResult:
        src, lengths, tgt_in, tgt_out = self.train.rows(self.batches.indices(step))
        dev = self.device
        logits = model(src.to(dev), lengths, tgt_in.to(dev), self.teacher_forcing)  # (b, t, V)
        tgt_out = tgt_out.to(dev)
        if self.world_size == 1:
            loss = sequence_loss(logits, tgt_out, self.label_smoothing)
        else:
            total = sequence_loss(logits, tgt_out, self.label_smoothing, reduction="sum")
            loss = total / (self.global_tokens(step) / self.world_size)
        return StepResult(loss, None, int((tgt_out != PAD).sum()))

    def global_tokens(self, step: int) -> int:
        """Target tokens (<eos> included) of every rank's rows of global step ``step``."""
        epoch, k = divmod(step, self.batches.steps_per_epoch)
        if self._epoch is None or self._epoch[0] != epoch:
            rows = torch.from_numpy(self.batches.epoch_batches(epoch))  # (steps, B)
            self._epoch = (epoch, (self.train.tgt_lengths[rows] - 1).sum(dim=1))
        return int(self._epoch[1][k])

    def evaluate(self, model: nn.Module) -> dict[str, float]:
        src_vocab, tgt_vocab = self.vocabs
        metrics, _ = score_heldout(model, src_vocab, tgt_vocab, self.val, 1, 1.0, self.max_length)
        pairs, total, tokens = self.val.pairs, 0.0, 0
        for start in range(0, len(pairs), LOSS_BATCH):
            index = torch.arange(start, min(start + LOSS_BATCH, len(pairs)))
            src, lengths, tgt_in, tgt_out = pairs.rows(index)
            logits = model(src.to(self.device), lengths, tgt_in.to(self.device))
            tgt_out = tgt_out.to(self.device)
            total += sequence_loss(logits, tgt_out, reduction="sum").item()
            tokens += int((tgt_out != PAD).sum())
        return {"wer": metrics["wer"], "per": metrics["per"], "loss": total / max(1, tokens)}
