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


def test_state_resets_are_a_function_of_seed_and_step_and_shard_like_the_batch():
    ids = torch.arange(10000)
    whole = StreamBatches(ids, 64, 10).keep_state(7, 0.3, seed=1)
    parts = [StreamBatches(ids, 64, 10).shard(r, 2).keep_state(7, 0.3, seed=1) for r in range(2)]
    assert torch.equal(torch.cat(parts), whole)
    assert torch.equal(StreamBatches(ids, 64, 10).keep_state(7, 0.3, seed=1), whole)
    assert not torch.equal(StreamBatches(ids, 64, 10).keep_state(8, 0.3, seed=1), whole)
    assert 0 < int((~whole).sum()) < 64  # about 0.3 x 64 streams reset
    assert bool(StreamBatches(ids, 64, 10).keep_state(7, 0.0, seed=1).all())


def test_task_zeroes_exactly_the_reset_streams_state():
    from rnnkit.tasks.textgen.task import TextgenTask

    batches = StreamBatches(torch.arange(10000) % 7, 16, 10)
    seen = []

    def model(x, state):
        seen.append(state)
        return torch.zeros(*x.shape, 7, requires_grad=True), state

    task = TextgenTask(batches, torch.arange(100) % 7, "char", torch.device("cpu"), 0, 0.5, 3)
    carry = (torch.ones(2, 16, 4), torch.full((2, 16, 4), 2.0))  # (L, B, H) h and c
    task.train_step(model, 5, carry)
    keep = batches.keep_state(5, 0.5, 3)
    h, c = seen[0]
    assert torch.equal(h[:, keep], torch.ones(2, int(keep.sum()), 4))
    assert torch.equal(c[:, ~keep], torch.zeros(2, int((~keep).sum()), 4))
    task.train_step(model, 0, carry)  # an epoch's first chunk starts every stream at zero
    assert seen[1] is None
