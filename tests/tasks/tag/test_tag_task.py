"""The training step's unknown-word replacement: ``--rare-dropout A`` replaces a word seen c
times in training by <unk> with probability A / (A + c), counted by brute force here."""

from __future__ import annotations

from collections import Counter

import pytest
import torch
from torch import nn

from rnnkit.tasks.tag import TagTask, Vocabularies, encode, rare_word_probabilities
from rnnkit.tasks.tag.task import SentenceBatches

TAGS = ["O", "B-PER", "I-PER"]


def _sentences(n: int) -> list[tuple[list[str], list[str]]]:
    """``n`` sentences "the w<i> ran": 'the' and 'ran' n times each, every w<i> once."""
    return [(["the", f"w{i}", "ran"], ["O", "B-PER", "O"]) for i in range(n)]


def _encoded(sentences):
    vocab = Vocabularies.build(sentences, 1, False, False, TAGS)
    enc = encode(vocab, [s for s, _ in sentences], [t for _, t in sentences], False, False)
    return vocab, enc


def test_probabilities_are_alpha_over_alpha_plus_the_training_count():
    sentences = [*_sentences(5), (["the", "the"], ["O", "O"])]
    vocab, enc = _encoded(sentences)
    counts = Counter(w for s, _ in sentences for w in s)
    probs = rare_word_probabilities(enc.words, len(vocab.words), 0.25)
    expected = [0.0, 0.0] + [0.25 / (0.25 + counts[w]) for w in vocab.words[2:]]
    assert probs.tolist() == pytest.approx(expected)
    assert rare_word_probabilities(enc.words, len(vocab.words), 0.0).sum() == 0


class _Recorder(nn.Module):
    """A stand-in tagger that keeps the word ids each training step gives it."""

    def __init__(self) -> None:
        super().__init__()
        self.seen: list[torch.Tensor] = []
        self.w = nn.Parameter(torch.zeros(()))

    def forward(self, batch):
        self.seen.append(batch.words.clone())
        return batch.words.float()[..., None] * self.w

    def loss(self, batch, reduction, emissions):
        return emissions.sum()


def test_training_replaces_rare_words_far_more_often_than_frequent_ones():
    torch.manual_seed(0)
    vocab, enc = _encoded(_sentences(200))
    batches = SentenceBatches(enc.lengths, 50, seed=0)
    task = TagTask(enc, batches, enc, [], TAGS, "pos", torch.device("cpu"),
                   rare_dropout=1.0, num_words=len(vocab.words))  # fmt: skip
    model = _Recorder()
    for step in range(40):
        task.train_step(model, step, None)
    words = torch.stack(model.seen)  # (40, 50, 3): columns the, w<i>, ran
    unk = (words == 1).double().mean(dim=(0, 1))
    assert unk[1] == pytest.approx(0.5, abs=0.05)  # seen once: 1 / (1 + 1)
    assert unk[0] < 0.02 and unk[2] < 0.02  # seen 200 times: 1 / 201
