"""Contiguous-stream batches for truncated BPTT, block hold-out, and DDP sharding."""

from __future__ import annotations

import pytest
import torch

from rnnkit.tasks.textgen import StreamBatches, eval_chunks, split_blocks
from rnnkit.train import RnnkitError


def test_each_row_continues_itself_from_batch_to_batch():
    ids = torch.arange(1000)
    batches = StreamBatches(ids, batch_size=4, seq_len=10)
    x0, y0, first = batches.batch(0)
    x1, _, second = batches.batch(1)
    assert first and not second and x0.shape == (4, 10)
    assert torch.equal(x1[:, 0], x0[:, -1] + 1)  # row b of step 1 follows row b of step 0
    assert torch.equal(y0, x0 + 1)  # targets are the next tokens
    xs, _, again = batches.batch(batches.chunks)  # the next epoch starts over
    assert again and torch.equal(xs, x0)


def test_shards_of_two_ranks_are_the_global_batch():
    ids = torch.arange(1000)
    whole = StreamBatches(ids, 4, 10).batch(3)[0]
    parts = [StreamBatches(ids, 4, 10).shard(r, 2).batch(3)[0] for r in range(2)]
    assert torch.equal(torch.cat(parts), whole)


def test_batch_not_divisible_by_processes_is_an_error():
    with pytest.raises(RnnkitError, match="divisible"):
        StreamBatches(torch.arange(1000), 3, 10).shard(0, 2)


def test_text_shorter_than_one_batch_is_an_error():
    with pytest.raises(RnnkitError, match="one batch needs"):
        StreamBatches(torch.arange(50), batch_size=4, seq_len=20)


def test_validation_is_the_tail_of_every_block():
    ids = torch.arange(100)
    train, val = split_blocks(ids, 0.1, blocks=5)
    assert val.tolist() == [18, 19, 38, 39, 58, 59, 78, 79, 98, 99]
    assert sorted(train.tolist() + val.tolist()) == list(range(100))


def test_eval_chunks_cover_the_validation_stream_once():
    ids = torch.arange(101)
    targets = torch.cat([y for _, y in eval_chunks(ids, seq_len=7, rows=4)], dim=1)
    assert sorted(targets.flatten().tolist()) == list(range(1, 101))
