"""Encoded texts and the training batches of each step, a pure function of the step number.

``encode_texts`` turns texts into a post-padded (N, T) id matrix of their words or characters
(the vocabulary's level, ``tokens``) plus true lengths (the rnnkit layers then skip the
padding). ``ShuffledBatches`` gives step ``s`` the rows of batch ``s mod steps_per_epoch`` of
epoch ``s // steps_per_epoch``, whose order is a permutation seeded by (seed, epoch): a
checkpoint's data position is its step, and resume is exact. With ``bucket``, each run of 50
batches' worth of shuffled examples is sorted by length before it is cut into batches (and the
batches shuffled again), so a batch's texts have similar lengths and the time loop runs few
steps past most of them. Under torchrun each rank takes its contiguous share of the rows of
every global batch.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor

from ...data.text import Vocab, pad_sequences
from ...errors import RnnkitError
from ...train.distributed import rank_rows
from .tokens import encode_text

__all__ = ["BUCKET_BATCHES", "EncodedTexts", "ShuffledBatches", "encode_texts"]

BUCKET_BATCHES = 50  # batches' worth of shuffled examples sorted by length together


@dataclass
class EncodedTexts:
    """N texts as ids: ``ids`` (N, T) int64, post-padded with 0; ``lengths`` (N,) int64 in
    [1, T] (an empty text counts one padding step); ``labels`` (N,) int64 class ids (or empty)."""

    ids: Tensor
    lengths: Tensor
    labels: Tensor

    def __len__(self) -> int:
        return self.ids.shape[0]

    def rows(self, index: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        """(x (b, t), lengths (b,), labels (b,)) of rows ``index``; t = the longest of them."""
        lengths = self.lengths[index]
        x = self.ids[index, : int(lengths.max())]
        labels = self.labels[index] if len(self.labels) else self.labels
        return x, lengths, labels


def encode_texts(
    vocab: Vocab,
    texts: Sequence[str],
    maxlen: int,
    truncating: str = "pre",
    labels: Sequence[int] = (),
) -> EncodedTexts:
    """Token ids (words or characters: ``vocab``'s level) of ``texts`` cut to ``maxlen``
    tokens (``truncating`` as in ``pad_sequences``), padded after the tokens, with their true
    lengths."""
    ids, lengths = pad_sequences(
        [encode_text(vocab, t) for t in texts], maxlen, padding="post", truncating=truncating
    )
    return EncodedTexts(
        torch.from_numpy(ids),
        torch.from_numpy(lengths).clamp(min=1),
        torch.as_tensor(np.asarray(labels, dtype=np.int64)),
    )


class ShuffledBatches:
    """Global batches of ``batch_size`` example indices per step (see the module docstring)."""

    def __init__(self, lengths: Tensor, batch_size: int, seed: int, bucket: bool = True) -> None:
        n = len(lengths)
        if n < batch_size:
            raise RnnkitError(
                f"the training split has {n} examples, fewer than one batch (--batch-size "
                f"{batch_size}): use more data, smaller --val-split / --test-split or a "
                "smaller --batch-size"
            )
        self.lengths = lengths.numpy()
        self.B, self.seed, self.bucket = batch_size, seed, bucket
        self.steps_per_epoch = n // batch_size  # the remainder sits out (a new one each epoch)
        self.rows = slice(0, batch_size)
        self._epoch: tuple[int, np.ndarray] | None = None  # (epoch, its batches) cache

    def shard(self, rank: int, world_size: int) -> ShuffledBatches:
        """Keep rows ``rank * B/W ... (rank+1) * B/W`` of every global batch."""
        self.rows = rank_rows(self.B, rank, world_size)
        return self

    def epoch_batches(self, epoch: int) -> np.ndarray:
        """(steps_per_epoch, B) example indices of ``epoch``, seeded by (seed, epoch)."""
        rng = np.random.default_rng([self.seed, 2, epoch])
        steps, B = self.steps_per_epoch, self.B
        order = rng.permutation(len(self.lengths))[: steps * B]
        if self.bucket:
            pool = B * BUCKET_BATCHES
            for start in range(0, len(order), pool):
                part = order[start : start + pool]
                order[start : start + pool] = part[np.argsort(self.lengths[part], kind="stable")]
            return order.reshape(steps, B)[rng.permutation(steps)]
        return order.reshape(steps, B)

    def indices(self, step: int) -> Tensor:
        """This rank's example indices (B/W,) of global step ``step``."""
        epoch, k = divmod(step, self.steps_per_epoch)
        if self._epoch is None or self._epoch[0] != epoch:
            self._epoch = (epoch, self.epoch_batches(epoch))
        return torch.from_numpy(self._epoch[1][k, self.rows].copy())
