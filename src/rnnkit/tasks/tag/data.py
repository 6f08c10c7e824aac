"""Tagged sentences as ids: vocabularies, the seeded split, encoded sentences and their batches.

``Vocabularies`` holds the id of every token (``<pad>`` 0, ``<unk>`` 1), character (for the
character features of words), character bigram (character-level tasks) and tag; it travels in
checkpoints as plain values. ``encode`` turns sentences into ``EncodedTags``, whose
``batch(index)`` pads the chosen sentences into one ``TagBatch``. ``split_indices`` holds out
``test_split`` of the sentences, then ``val_split`` of the rest, by a permutation seeded by
``seed``.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from itertools import pairwise
from typing import Any

import numpy as np
import torch
from torch import Tensor
from torch.nn.utils.rnn import pad_sequence

__all__ = [
    "BIGRAM_MIN_COUNT",
    "MAX_WORD_CHARS",
    "EncodedTags",
    "TagBatch",
    "Vocabularies",
    "bigrams_of",
    "encode",
    "split_indices",
]

PAD, UNK, EDGE = "<pad>", "<unk>", "<s>"  # ids 0 and 1; EDGE pads a sentence for its bigrams
MAX_WORD_CHARS = 24  # a word's character features read at most its first 24 characters
BIGRAM_MIN_COUNT = 3  # bigrams seen fewer times in training share <unk> (88K kept of 279K)


def bigrams_of(tokens: Sequence[str]) -> list[str]:
    """The n + 1 bigrams around n tokens: <s>t0, t0t1, ..., t(n-1)<s>; token t's left bigram
    is number t, its right one number t + 1."""
    padded = [EDGE, *tokens, EDGE]
    return [a + b for a, b in pairwise(padded)]


def _index(counts: Counter, min_count: int) -> list[str]:
    kept = sorted(t for t, c in counts.items() if c >= min_count and t not in (PAD, UNK))
    return [PAD, UNK, *kept]


@dataclass
class Vocabularies:
    """Ids of tokens, characters, bigrams and tags (see the module docstring)."""

    words: list[str]
    chars: list[str]
    bigrams: list[str]
    tags: list[str]
    lower: bool = False
    maps: dict[str, dict[str, int]] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self.maps = {
            name: {t: i for i, t in enumerate(getattr(self, name))}
            for name in ("words", "chars", "bigrams", "tags")
        }

    @classmethod
    def build(
        cls, sentences: Sequence[tuple[list[str], list[str]]], min_count: int, lower: bool,
        bigrams: bool, tags: Sequence[str] | None = None,
    ) -> Vocabularies:  # fmt: skip
        """From training (tokens, tags) pairs; ``tags`` fixes the tag list (else sorted, O
        first)."""
        words, chars, pairs, seen = Counter(), Counter(), Counter(), Counter()
        for tokens, labels in sentences:
            words.update(t.lower() if lower else t for t in tokens)
            chars.update(c for t in tokens for c in t[:MAX_WORD_CHARS])
            if bigrams:
                pairs.update(bigrams_of(tokens))
            seen.update(labels)
        if tags is None:
            tags = sorted(seen, key=lambda t: (t != "O", t))
        pair_list = _index(pairs, BIGRAM_MIN_COUNT) if bigrams else []
        return cls(_index(words, min_count), _index(chars, 1), pair_list, list(tags), lower)

    def ids(self, name: str, items: Sequence[str]) -> Tensor:
        """(n,) int64 ids of ``items`` in vocabulary ``name``; unknown ones are <unk> (1)."""
        table = self.maps[name]
        return torch.tensor([table.get(x, 1) for x in items], dtype=torch.int64)

    def to_dict(self) -> dict[str, Any]:
        """Plain values for the checkpoint."""
        return {"words": self.words, "chars": self.chars, "bigrams": self.bigrams,
                "tags": self.tags, "lower": self.lower}  # fmt: skip

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Vocabularies:
        """The inverse of ``to_dict``."""
        return cls(list(d["words"]), list(d["chars"]), list(d["bigrams"]), list(d["tags"]),
                   bool(d["lower"]))  # fmt: skip


@dataclass
class TagBatch:
    """Padded sentences: ``words`` (B, T), ``chars`` (B, T, C) or None, ``bigrams`` (B, T + 1)
    or None, ``lengths`` (B,), ``tags`` (B, T) (0 past each length; None without tags)."""

    words: Tensor
    chars: Tensor | None
    bigrams: Tensor | None
    lengths: Tensor
    tags: Tensor | None

    def to(self, device: torch.device) -> TagBatch:
        """The batch on ``device`` (lengths stay on the CPU, as the recurrent layers take them)."""

        def move(t):
            return None if t is None else t.to(device)

        return TagBatch(move(self.words), move(self.chars), move(self.bigrams), self.lengths,
                        move(self.tags))  # fmt: skip


@dataclass
class EncodedTags:
    """N sentences as id tensors of their own lengths."""

    words: list[Tensor]  # (n,) each
    chars: list[Tensor] | None  # (n, c) each, c = the longest word's characters (capped)
    bigrams: list[Tensor] | None  # (n + 1,) each
    tags: list[Tensor] | None  # (n,) each
    lengths: Tensor  # (N,)

    def __len__(self) -> int:
        return len(self.words)

    def batch(self, index: Sequence[int] | Tensor) -> TagBatch:
        """The padded ``TagBatch`` of sentences ``index``."""
        index = [int(i) for i in index]

        def pad(items):
            return pad_sequence([items[i] for i in index], batch_first=True)

        chars = None
        if self.chars is not None:
            rows = [self.chars[i] for i in index]
            C = max(r.shape[1] for r in rows)
            T = max(r.shape[0] for r in rows)
            chars = torch.zeros(len(rows), T, C, dtype=torch.int64)
            for b, r in enumerate(rows):
                chars[b, : r.shape[0], : r.shape[1]] = r
        return TagBatch(
            pad(self.words),
            chars,
            None if self.bigrams is None else pad(self.bigrams),
            self.lengths[index],
            None if self.tags is None else pad(self.tags),
        )


def _char_ids(vocab: Vocabularies, tokens: Sequence[str]) -> Tensor:
    C = max(min(len(t), MAX_WORD_CHARS) for t in tokens)
    out = torch.zeros(len(tokens), C, dtype=torch.int64)
    table = vocab.maps["chars"]
    for i, t in enumerate(tokens):
        ids = [table.get(c, 1) for c in t[:MAX_WORD_CHARS]]
        out[i, : len(ids)] = torch.tensor(ids, dtype=torch.int64)
    return out


def encode(
    vocab: Vocabularies,
    tokens: Sequence[Sequence[str]],
    tags: Sequence[Sequence[str]] | None,
    chars: bool,
    bigrams: bool,
) -> EncodedTags:
    """``EncodedTags`` of the sentences ``tokens`` (and their ``tags``, known to ``vocab``)."""
    lower = vocab.lower
    words = [vocab.ids("words", [t.lower() if lower else t for t in s]) for s in tokens]
    return EncodedTags(
        words,
        [_char_ids(vocab, s) for s in tokens] if chars else None,
        [vocab.ids("bigrams", bigrams_of(s)) for s in tokens] if bigrams else None,
        [vocab.ids("tags", s) for s in tags] if tags is not None else None,
        torch.tensor([len(s) for s in tokens], dtype=torch.int64),
    )


def split_indices(
    n: int, val_split: float, test_split: float, seed: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(train, validation, test) sentence indices, each sorted: ``test_split`` of ``n``, then
    ``val_split`` of the rest, drawn by a permutation seeded by ``seed``."""
    order = np.random.default_rng([seed, 17]).permutation(n)
    n_test = round(n * test_split)
    n_val = round((n - n_test) * val_split)
    test, val, train = order[:n_test], order[n_test : n_test + n_val], order[n_test + n_val :]
    return np.sort(train), np.sort(val), np.sort(test)
