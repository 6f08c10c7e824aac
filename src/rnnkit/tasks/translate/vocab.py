"""Token vocabularies of one side of a translation, with padding, begin, end and unknown ids.

Levels: ``char`` (every character a token, spaces too), ``space`` (tokens are what whitespace
separates: ARPAbet phonemes, pre-tokenized text) and ``word`` (rnnkit's regex tokenizer:
words and single punctuation marks). Ids 0-3 are ``<pad>``, ``<bos>``, ``<eos>``, ``<unk>``;
then the most frequent tokens of the training split (ties by spelling), in sorted order.

    >>> v = SeqVocab.build(["AE1 B IY0", "B IY0"], "space")
    >>> v.encode("B IY0 ZH")
    [5, 6, 3]
    >>> v.decode([4, 5, 2, 4])  # stops at <eos>
    'AE1 B'
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

from ...data.text import tokenize
from ...errors import RnnkitError

__all__ = ["BOS", "EOS", "LEVELS", "PAD", "SPECIALS", "UNK", "SeqVocab", "encode_batch", "split"]

PAD, BOS, EOS, UNK = 0, 1, 2, 3  # the ids of the special tokens
SPECIALS = ("<pad>", "<bos>", "<eos>", "<unk>")
LEVELS = ("char", "word", "space")


def split(text: str, level: str) -> list[str]:
    """The tokens of ``text`` at ``level`` (see the module docstring)."""
    if level == "char":
        return list(text)
    if level == "space":
        return text.split()
    if level == "word":
        return tokenize(text)
    raise ValueError(f"level must be one of {', '.join(LEVELS)}; got {level!r}")


@dataclass
class SeqVocab:
    """The tokens of one side, in id order (the four specials first)."""

    level: str  # char, word or space
    tokens: list[str]  # token of each id
    index: dict[str, int] = field(init=False, repr=False)  # id of each token

    def __post_init__(self) -> None:
        self.index = {t: i for i, t in enumerate(self.tokens)}

    def __len__(self) -> int:
        return len(self.tokens)

    @classmethod
    def build(cls, texts: Iterable[str], level: str, max_size: int = 0) -> SeqVocab:
        """The vocabulary of ``texts``; ``max_size`` > 0 caps it (specials included)."""
        if max_size and max_size < len(SPECIALS) + 1:
            raise RnnkitError(f"a vocabulary size must be >= 5 (4 special ids); got {max_size}")
        counts: Counter[str] = Counter()
        for text in texts:
            counts.update(split(text, level))
        for special in SPECIALS:
            counts.pop(special, None)
        common = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))
        if max_size:
            common = common[: max_size - len(SPECIALS)]
        return cls(level, [*SPECIALS, *sorted(t for t, _ in common)])

    def encode(self, text: str) -> list[int]:
        """Ids of the tokens of ``text`` (``<unk>`` for unknown ones), no ``<bos>``/``<eos>``."""
        return [self.index.get(t, UNK) for t in split(text, self.level)]

    def decode(self, ids: Iterable[int]) -> str:
        """The text of ``ids`` up to the first ``<eos>``, without ``<pad>`` and ``<bos>``."""
        tokens = []
        for i in ids:
            if i == EOS:
                break
            if i not in (PAD, BOS):
                tokens.append(self.tokens[i])
        return "".join(tokens) if self.level == "char" else " ".join(tokens)

    def to_dict(self) -> dict[str, Any]:
        """Plain values for a checkpoint."""
        return {"level": self.level, "tokens": list(self.tokens)}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> SeqVocab:
        """The vocabulary ``to_dict`` described."""
        return cls(d["level"], list(d["tokens"]))


def encode_batch(vocab: SeqVocab, texts: Sequence[str], eos: bool, bos: bool = False):
    """(ids (N, T) int64 post-padded with <pad>, lengths (N,) int64) of ``texts``, each with
    ``<bos>`` before and/or ``<eos>`` after its tokens; an empty text gets at least one step."""
    seqs = [([BOS] if bos else []) + vocab.encode(t) + ([EOS] if eos else []) for t in texts]
    T = max([1, *map(len, seqs)])
    ids = np.full((len(seqs), T), PAD, dtype=np.int64)
    lengths = np.ones(len(seqs), dtype=np.int64)
    for row, seq in enumerate(seqs):
        ids[row, : len(seq)] = seq
        lengths[row] = max(1, len(seq))
    return torch.from_numpy(ids), torch.from_numpy(lengths)
