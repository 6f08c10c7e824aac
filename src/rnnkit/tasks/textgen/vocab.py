"""Character and word vocabularies: text <-> token ids, saved inside the checkpoint.

Char level: every distinct character of the training text, sorted. Word level: the
``max_size - 1`` most frequent words, numbers and punctuation marks plus ``<unk>``; newlines
are tokens of their own so the play format (speaker lines, verse lines) survives.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ...train import RnnkitError

__all__ = ["UNK", "Vocab", "word_split"]

UNK = "<unk>"  # the word-level token of every word outside the vocabulary
_WORD = re.compile(r"\w+(?:'\w+)*|\n|[^\w\s]")  # words (with inner '), newline, one symbol
_NO_SPACE_BEFORE = set(",.;:!?')]}\n")
_NO_SPACE_AFTER = set("([{\n")


def word_split(text: str) -> list[str]:
    """Word-level tokens of ``text``: words, newlines and punctuation marks, spaces dropped."""
    return _WORD.findall(text)


@dataclass
class Vocab:
    """The tokens of one level (``"char"`` or ``"word"``), in id order."""

    level: str  # "char" or "word"
    tokens: list[str]  # token of each id
    index: dict[str, int] = field(init=False, repr=False)  # id of each token

    def __post_init__(self) -> None:
        self.index = {t: i for i, t in enumerate(self.tokens)}

    def __len__(self) -> int:
        return len(self.tokens)

    @classmethod
    def build(cls, text: str, level: str, max_size: int = 10000) -> Vocab:
        """The vocabulary of ``text`` at ``level`` (``max_size`` caps word level only)."""
        if level == "char":
            return cls("char", sorted(set(text)))
        if max_size < 2:
            raise RnnkitError(f"--vocab-size must be >= 2 (one id is {UNK}); got {max_size}")
        counts = Counter(word_split(text))
        counts.pop(UNK, None)
        common = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))[: max_size - 1]
        return cls("word", [UNK, *sorted(word for word, _ in common)])

    @property
    def unk(self) -> int | None:
        """Id of ``<unk>`` at word level; None at char level."""
        return self.index[UNK] if self.level == "word" else None

    def units(self, text: str) -> list[str]:
        """``text`` cut into this level's units (characters or words)."""
        return list(text) if self.level == "char" else word_split(text)

    def unknown(self, text: str) -> list[str]:
        """Units of ``text`` that have no id, in order of first appearance."""
        return list(dict.fromkeys(u for u in self.units(text) if u not in self.index))

    def encode(self, text: str) -> np.ndarray:
        """Token ids of ``text`` (int64); unknown words become ``<unk>``, unknown chars raise."""
        units = self.units(text)
        if self.level == "char":
            missing = self.unknown(text)
            if missing:
                raise RnnkitError(
                    f"text has characters outside the vocabulary: {_show(missing)}; "
                    f"the model knows {len(self)} characters: {_show(self.tokens)}"
                )
            return np.fromiter((self.index[u] for u in units), np.int64, len(units))
        unk = self.index[UNK]
        return np.fromiter((self.index.get(u, unk) for u in units), np.int64, len(units))

    def piece(self, token: int, previous: int | None) -> str:
        """The text of ``token`` as it follows ``previous`` (word level puts spaces back)."""
        text = self.tokens[token]
        if self.level == "char" or previous is None:
            return text
        before = self.tokens[previous]
        if text[0] in _NO_SPACE_BEFORE or before[-1] in _NO_SPACE_AFTER:
            return text
        return " " + text

    def decode(self, ids: Iterable[int]) -> str:
        """The text of a sequence of ids."""
        out, previous = [], None
        for token in ids:
            out.append(self.piece(int(token), previous))
            previous = int(token)
        return "".join(out)

    def to_dict(self) -> dict[str, Any]:
        """Plain values for the checkpoint."""
        return {"level": self.level, "tokens": list(self.tokens)}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Vocab:
        """The inverse of :meth:`to_dict`."""
        return cls(d["level"], list(d["tokens"]))


def _show(units: list[str], limit: int = 20) -> str:
    shown = " ".join(repr(u) for u in units[:limit])
    return shown + (f" ... ({len(units)} in all)" if len(units) > limit else "")
