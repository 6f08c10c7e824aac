"""``TagTask``: the Trainer's view of sequence labelling, and scoring a split.

Training: step ``s`` takes this rank's rows of global batch ``s`` (``ShuffledBatches``, a pure
function of the step: exact resume); with ``word_dropout`` each token id is replaced by
``<unk>`` with that probability, with ``rare_dropout`` A a token seen c times in the training
split with probability A / (A + c) (torch's RNG, which checkpoints hold). Validation reports
``loss`` (per token), ``token_error`` (1 - token accuracy) and ``error``: 1 - entity F1 (ner),
1 - word F1 (segment), 1 - accuracy (pos); all lower-is-better as the Trainer monitors them.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
from torch import Tensor, nn

from ...train import StepResult
from ..classify.batches import ShuffledBatches
from .data import EncodedTags
from .metrics import entity_scores, segmentation_scores, token_accuracy

__all__ = [
    "EVAL_BATCH",
    "SentenceBatches",
    "TagTask",
    "predict_ids",
    "rare_word_probabilities",
    "score_tags",
]

EVAL_BATCH = 64  # sentences per forward pass when evaluating


class SentenceBatches(ShuffledBatches):
    """``ShuffledBatches`` that also give the tokens of a whole global batch (every rank's
    rows), by which each rank divides its summed loss: the gradient averaged over the ranks is
    then the gradient of the loss per token of the global batch, as in one process."""

    def global_tokens(self, step: int) -> int:
        """Tokens of all sentences of global step ``step``."""
        k = step % self.steps_per_epoch
        self.indices(step)  # computes (and caches) the epoch's batches
        return int(self.lengths[self._epoch[1][k]].sum())


def rare_word_probabilities(words: Sequence[Tensor], num_words: int, alpha: float) -> Tensor:
    """(num_words,) probability that training replaces each word id by <unk>: A / (A + c) for
    a word seen c times in ``words`` (the training sentences' ids); 0 for <pad> and <unk>, and
    everywhere when ``alpha`` is 0."""
    counts = torch.bincount(torch.cat(list(words)), minlength=num_words).double()  # (V,)
    probs = alpha / (alpha + counts) if alpha > 0 else torch.zeros(num_words, dtype=torch.float64)
    probs[:2] = 0.0  # <pad> stays padding, <unk> is <unk> already
    return probs.float()


@torch.no_grad()
def predict_ids(
    model: nn.Module, data: EncodedTags, device: torch.device, batch_size: int = EVAL_BATCH
) -> tuple[list[list[int]], float]:
    """(best tag ids of each sentence, in the order of ``data``; summed loss, 0 without tags)
    in eval mode, sentences of similar length batched together."""
    was_training = model.training
    model.eval()
    order = torch.argsort(data.lengths, stable=True).tolist()
    out: list[list[int]] = [[] for _ in order]
    total = 0.0
    for start in range(0, len(order), batch_size):
        index = order[start : start + batch_size]
        batch = data.batch(index).to(device)
        emissions = model(batch)
        best = model.decode(batch, emissions).cpu()
        if batch.tags is not None:
            total += model.loss(batch, "sum", emissions).item()
        for row, i in enumerate(index):
            out[i] = best[row, : int(batch.lengths[row])].tolist()
    model.train(was_training)
    return out, total


def score_tags(
    task: str, gold: Sequence[Sequence[str]], pred: Sequence[Sequence[str]]
) -> dict[str, Any]:
    """Token accuracy, and entity scores (ner) or word scores (segment); ``error`` is 1 - the
    task's headline metric."""
    report: dict[str, Any] = {"accuracy": token_accuracy(gold, pred)}
    if task == "ner":
        report["entities"] = entity_scores(gold, pred)
        report["error"] = 1.0 - report["entities"]["micro"]["f1"]
    elif task == "segment":
        report["segmentation"] = segmentation_scores(gold, pred)
        report["error"] = 1.0 - report["segmentation"]["f1"]
    else:
        report["error"] = 1.0 - report["accuracy"]
    return report


class TagTask:
    """The ``Task`` of sequence labelling (see the module docstring)."""

    def __init__(
        self,
        train: EncodedTags,
        batches: SentenceBatches,
        val: EncodedTags,
        val_tags: list[list[str]],
        tags: list[str],
        task: str,
        device: torch.device,
        word_dropout: float = 0.0,
        world_size: int = 1,
        rare_dropout: float = 0.0,
        num_words: int = 2,
    ) -> None:
        self.train, self.batches, self.val, self.device = train, batches, val, device
        self.world_size = world_size
        self.val_tags, self.tag_names, self.kind = val_tags, tags, task
        self.word_dropout = word_dropout
        self.rare = rare_word_probabilities(train.words, num_words, rare_dropout).to(device)
        self.rare_dropout = rare_dropout
        headline = {"ner": "entity F1", "segment": "word F1", "pos": "accuracy"}[task]
        self.labels = {  # the axes of curves.png
            "loss": "loss (nats per token)",
            "error": f"1 - {headline}",
            "token_error": "1 - token accuracy",
        }

    def steps_per_epoch(self) -> int:
        return self.batches.steps_per_epoch

    def train_step(self, model: nn.Module, step: int, carry: Any) -> StepResult:
        batch = self.train.batch(self.batches.indices(step)).to(self.device)
        if self.word_dropout > 0:
            drop = torch.rand(batch.words.shape, device=self.device) < self.word_dropout
            batch.words = batch.words.masked_fill(drop & (batch.words != 0), 1)  # <unk>
        if self.rare_dropout > 0:
            drop = torch.rand(batch.words.shape, device=self.device) < self.rare[batch.words]
            batch.words = batch.words.masked_fill(drop, 1)  # <pad> has probability 0
        net = model.module if hasattr(model, "module") else model
        emissions = model(batch)  # under DDP through the wrapper, so that its hooks run
        total = net.loss(batch, "sum", emissions)
        share = self.batches.global_tokens(step) / self.world_size  # this rank's fair share
        return StepResult(total / share, None, int(batch.lengths.sum()))

    def evaluate(self, model: nn.Module) -> dict[str, float]:
        ids, total = predict_ids(model, self.val, self.device)
        pred = [[self.tag_names[i] for i in row] for row in ids]
        report = score_tags(self.kind, self.val_tags, pred)
        tokens = int(self.val.lengths.sum())
        return {
            "loss": total / tokens,
            "error": report["error"],
            "token_error": 1.0 - report["accuracy"],
        }
