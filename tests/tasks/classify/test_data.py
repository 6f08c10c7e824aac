"""Reading CSV/JSONL, the stratified seeded split, encoding with true lengths, and batches that
are a pure function of the step (shuffled per epoch, bucketed, sharded across ranks)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from classify_helpers import write_csv, write_jsonl

from rnnkit.data.text import Vocab
from rnnkit.tasks.classify import ShuffledBatches, encode_texts, read_examples, split_indices


def test_csv_and_jsonl_read_the_same_examples(tmp_path):
    rows = [("A  fine\nfilm.", "pos"), ("Dull.", "neg")]
    csv_path = write_csv(tmp_path / "a.csv", [(label, text) for text, label in rows], ("y", "x"))
    records = [{"x": t, "y": y, "id": i} for i, (t, y) in enumerate(rows)]
    jsonl = write_jsonl(tmp_path / "a.jsonl", records)
    expected = (["A fine film.", "Dull."], ["pos", "neg"])  # whitespace runs become one space
    assert read_examples(csv_path, "x", "y") == expected
    assert read_examples(jsonl, "x", "y") == expected


def test_jsonl_numbers_and_booleans_become_label_strings(tmp_path):
    records = [{"text": "a", "label": 1}, {"text": "b", "label": True}]
    path = write_jsonl(tmp_path / "n.jsonl", records)
    assert read_examples(path)[1] == ["1", "true"]


def test_split_is_stratified_disjoint_and_seeded():
    labels = np.array([0] * 50 + [1] * 30 + [2] * 20)
    train, val, test = split_indices(labels, val_split=0.25, test_split=0.2, seed=3)
    assert sorted(np.concatenate([train, val, test]).tolist()) == list(range(100))
    assert np.bincount(labels[test]).tolist() == [10, 6, 4]  # 20% of each class
    assert np.bincount(labels[val]).tolist() == [10, 6, 4]  # 25% of each class's rest
    again = split_indices(labels, 0.25, 0.2, seed=3)
    other = split_indices(labels, 0.25, 0.2, seed=4)
    assert all(np.array_equal(a, b) for a, b in zip(again, (train, val, test)))
    assert not np.array_equal(other[2], test)


def test_encoding_keeps_true_lengths_and_truncates_as_asked():
    vocab = Vocab.build(["a b c d e"], "word", 10, lower=True, newlines=False, pad=True)
    enc = encode_texts(vocab, ["a b c d e", "E", ""], maxlen=3, truncating="pre", labels=[1, 0, 1])
    a, b, c, d, e = (vocab.index[w] for w in "abcde")
    assert enc.ids.tolist() == [[c, d, e], [e, 0, 0], [0, 0, 0]]  # post-padded for the RNN
    assert enc.lengths.tolist() == [3, 1, 1]  # an empty text runs one padding step
    x, _, labels = enc.rows(torch.tensor([1, 2]))
    assert x.shape == (2, 1) and labels.tolist() == [0, 1]  # cut to the longest of the rows
    post = encode_texts(vocab, ["a b c d e"], maxlen=3, truncating="post")
    assert post.ids.tolist() == [[a, b, c]]


LENGTHS = torch.randint(1, 40, (103,), generator=torch.Generator().manual_seed(0))


@pytest.mark.parametrize("bucket", [False, True])
def test_batches_are_a_pure_function_of_the_step(bucket):
    a, b = (ShuffledBatches(LENGTHS, 8, seed=1, bucket=bucket) for _ in range(2))
    assert a.steps_per_epoch == 12  # 103 // 8; the 7 left over sit out this epoch
    steps = [5, 0, 30, 11, 12, 5]
    assert all(torch.equal(a.indices(s), b.indices(s)) for s in reversed(steps))
    epoch0 = torch.cat([a.indices(s) for s in range(12)])
    epoch1 = torch.cat([a.indices(s) for s in range(12, 24)])
    assert len(set(epoch0.tolist())) == 96  # no example twice within an epoch
    assert not torch.equal(epoch0, epoch1)  # each epoch its own order


def test_bucketing_batches_texts_of_similar_length():
    def spread(bucket: bool) -> int:  # summed max - min length within each batch of an epoch
        batches = ShuffledBatches(LENGTHS, 8, seed=0, bucket=bucket)
        return sum(
            int(LENGTHS[batches.indices(s)].amax() - LENGTHS[batches.indices(s)].amin())
            for s in range(12)
        )

    plain, bucketed = spread(False), spread(True)
    assert bucketed < plain / 2


def test_shards_of_two_ranks_are_the_global_batch():
    whole = ShuffledBatches(LENGTHS, 8, 2).indices(7)
    parts = [ShuffledBatches(LENGTHS, 8, 2).shard(r, 2).indices(7) for r in range(2)]
    assert torch.equal(torch.cat(parts), whole)
