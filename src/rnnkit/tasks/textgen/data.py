"""Reading the corpus, holding out validation blocks, and contiguous-stream batches for TBPTT.

``StreamBatches`` cuts the token stream into ``B`` equal streams laid side by side (B, N); step
``s`` reads chunk ``k = s mod (N // T)`` of every stream, so row ``b`` of one batch continues
row ``b`` of the previous batch and the hidden state can be carried across (detached), as in
stateful Keras training. The batch is a pure function of the step: the data position of a
checkpoint is its step. Under DDP each rank takes a contiguous share of the B rows.
"""

from __future__ import annotations

import itertools
import os

import torch
from torch import Tensor

from ...data.files import read_text_file
from ...errors import RnnkitError
from ...train.distributed import rank_rows

__all__ = ["StreamBatches", "eval_chunks", "read_corpus", "split_blocks"]


def read_corpus(path: str | os.PathLike, encoding: str = "utf-8") -> str:
    """The text of ``path``; ``RnnkitError`` if it is missing, empty or not ``encoding``."""
    text = read_text_file(path, "--data", encoding, encoding_flag=True)
    if not text.strip():
        raise RnnkitError(f"--data {path}: the file is empty")
    return text.replace("\r\n", "\n")


def split_blocks(ids: Tensor, val_fraction: float, blocks: int) -> tuple[Tensor, Tensor]:
    """(train, validation): the stream in ``blocks`` contiguous blocks, the last
    ``val_fraction`` of each block held out, so validation spans the whole corpus."""
    if not 0 < val_fraction < 1:
        raise RnnkitError(f"--val-fraction must be between 0 and 1; got {val_fraction}")
    n = len(ids)
    bounds = [n * i // blocks for i in range(blocks + 1)]
    train, val = [], []
    for start, end in itertools.pairwise(bounds):
        cut = end - round((end - start) * val_fraction)
        train.append(ids[start:cut])
        val.append(ids[cut:end])
    return torch.cat(train), torch.cat(val)


class StreamBatches:
    """Batches (x, y) of shape (B, T) from one token stream, contiguous from step to step."""

    def __init__(self, ids: Tensor, batch_size: int, seq_len: int) -> None:
        B, T = batch_size, seq_len
        N = (len(ids) - 1) // B  # tokens per stream
        if N < T:
            raise RnnkitError(
                f"the training text has {len(ids)} tokens; one batch needs --batch-size x "
                f"--seq-len + 1 = {B * T + 1}: use a longer text or a smaller "
                "--seq-len / --batch-size"
            )
        self.x = ids[: B * N].view(B, N)  # (B, N) inputs
        self.y = ids[1 : B * N + 1].view(B, N)  # (B, N) next tokens
        self.T = T
        self.chunks = N // T  # steps per epoch
        self.rows = slice(0, B)

    def shard(self, rank: int, world_size: int) -> StreamBatches:
        """Keep rows ``rank * B/W ... (rank+1) * B/W`` (this rank's share of the global batch)."""
        self.rows = rank_rows(self.x.shape[0], rank, world_size)
        return self

    def batch(self, step: int) -> tuple[Tensor, Tensor, bool]:
        """(x, y, starts_epoch) of global step ``step``; x, y (B/W, T)."""
        k = step % self.chunks
        cols = slice(k * self.T, (k + 1) * self.T)
        return self.x[self.rows, cols], self.y[self.rows, cols], k == 0

    def keep_state(self, step: int, reset_prob: float, seed: int) -> Tensor:
        """(B/W,) bool: False for the streams whose carried state step ``step`` resets. Drawn
        for the global batch from (seed, step) alone, so resume and any process count agree."""
        gen = torch.Generator().manual_seed(seed * 1_000_003 + step)
        keep = torch.rand(self.x.shape[0], generator=gen) >= reset_prob  # (B,)
        return keep[self.rows]


def eval_chunks(ids: Tensor, seq_len: int, rows: int = 32):
    """Yield (x, y) chunks of (R, <=T) covering ``ids`` as R side-by-side streams, in order."""
    R = max(1, min(rows, (len(ids) - 1) // max(1, seq_len)))
    N = (len(ids) - 1) // R
    if N < 1:
        raise RnnkitError(f"the validation text has {len(ids)} tokens; it needs at least 2")
    x = ids[: R * N].view(R, N)
    y = ids[1 : R * N + 1].view(R, N)
    for start in range(0, N, seq_len):
        yield x[:, start : start + seq_len], y[:, start : start + seq_len]
