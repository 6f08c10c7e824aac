"""Text -> token ids: a regex tokenizer, a frequency-capped vocabulary, and Keras-style padding.

The pipeline of Keras' ``Tokenizer`` + ``pad_sequences``, in three pieces:

    >>> tokenize("It's GREAT, isn't it?", lower=True)
    ["it's", 'great', ',', "isn't", 'it', '?']
    >>> vocab = Vocab.build(["a b b", "b c"], "word", max_size=4, lower=True, pad=True)
    >>> vocab.tokens  # <pad> is id 0, <unk> id 1, then the 2 most frequent words
    ['<pad>', '<unk>', 'a', 'b']
    >>> ids, lengths = pad_sequences([vocab.encode("b c a"), vocab.encode("a")], maxlen=2)
    >>> ids.tolist(), lengths.tolist()  # Keras' defaults: pad and truncate at the front
    ([[1, 2], [0, 2]], [2, 1])

``Vocab`` serves both recipes: ``textgen`` (char level, or case-kept word level with newline
tokens, no padding) and ``classify`` (lower-cased words, ``<pad>`` = 0 and ``<unk>`` = 1). It
travels inside checkpoints as plain values (``to_dict`` / ``from_dict``).
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..errors import RnnkitError

__all__ = ["PAD", "UNK", "Vocab", "pad_sequences", "tokenize", "word_split"]

PAD = "<pad>"  # id 0 of a padded vocabulary: fills sequences up to a common length
UNK = "<unk>"  # the word-level token of every word outside the vocabulary
_WORD = re.compile(r"\w+(?:'\w+)*|\n|[^\w\s]")  # words (with inner '), newline, one symbol
_NO_SPACE_BEFORE = set(",.;:!?')]}\n")
_NO_SPACE_AFTER = set("([{\n")
_SIDES = ("pre", "post")


def tokenize(text: str, lower: bool = False, newlines: bool = False) -> list[str]:
    """Tokens of ``text``: words (letters, digits, ``_``, inner apostrophes as in ``isn't``) and
    single punctuation marks; with ``newlines`` each line break is a token ``"\\n"``, otherwise
    it separates like any whitespace. ``lower`` lower-cases first."""
    tokens = _WORD.findall(text.lower() if lower else text)
    return tokens if newlines else [t for t in tokens if t != "\n"]


def word_split(text: str) -> list[str]:
    """Word-level tokens of a language model: case kept, newlines kept as tokens."""
    return tokenize(text, newlines=True)


def pad_sequences(
    sequences: Sequence[Sequence[int]],
    maxlen: int | None = None,
    padding: str = "pre",
    truncating: str = "pre",
    value: int = 0,
) -> tuple[np.ndarray, np.ndarray]:
    """(ids (N, T) int64, lengths (N,) int64) from N id sequences, as Keras' ``pad_sequences``.

    T is ``maxlen``, or the longest sequence's length when None. A longer sequence loses
    tokens at its start (``truncating="pre"``) or end (``"post"``); a shorter one is filled
    with ``value`` before (``padding="pre"``) or after (``"post"``) its tokens. ``lengths``
    holds each row's count of real tokens, min(len, T).
    """
    for name, side in (("padding", padding), ("truncating", truncating)):
        if side not in _SIDES:
            raise ValueError(f"{name} must be 'pre' or 'post'; got {side!r}")
    if maxlen is not None and maxlen < 1:
        raise ValueError(f"maxlen must be >= 1 or None; got {maxlen}")
    T = maxlen if maxlen is not None else max((len(s) for s in sequences), default=0)
    ids = np.full((len(sequences), T), value, dtype=np.int64)
    lengths = np.zeros(len(sequences), dtype=np.int64)
    for row, seq in enumerate(sequences):
        seq = np.asarray(seq, dtype=np.int64)
        if len(seq) > T:
            seq = seq[len(seq) - T :] if truncating == "pre" else seq[:T]
        n = lengths[row] = len(seq)
        if padding == "pre":
            ids[row, T - n :] = seq
        else:
            ids[row, :n] = seq
    return ids, lengths


@dataclass
class Vocab:
    """The tokens of one level (``"char"`` or ``"word"``), in id order.

    Word level options: ``lower`` lower-cases text before splitting; ``newlines`` makes line
    breaks tokens. A vocabulary built with ``pad=True`` starts with ``<pad>`` (id 0).
    """

    level: str  # "char" or "word"
    tokens: list[str]  # token of each id
    lower: bool = False  # word level: lower-case before splitting
    newlines: bool = True  # word level: "\n" is a token (a language model keeps line structure)
    index: dict[str, int] = field(init=False, repr=False)  # id of each token

    def __post_init__(self) -> None:
        self.index = {t: i for i, t in enumerate(self.tokens)}

    def __len__(self) -> int:
        return len(self.tokens)

    @classmethod
    def build(
        cls,
        text: str | Iterable[str],
        level: str,
        max_size: int = 10000,
        *,
        lower: bool = False,
        newlines: bool = True,
        pad: bool = False,
    ) -> Vocab:
        """The vocabulary of ``text`` (one string or many) at ``level``.

        Word level keeps the ``max_size - 1`` most frequent tokens beside ``<unk>`` (ties by
        spelling), ``max_size - 2`` with ``pad``; ids after the specials are in sorted order.
        ``max_size`` caps word level only.
        """
        texts = [text] if isinstance(text, str) else list(text)
        if level == "char":
            return cls("char", sorted(set().union(*texts)))
        specials = [PAD, UNK] if pad else [UNK]
        if max_size < len(specials) + 1:
            roles = f"ids 0 and 1 are {PAD} and {UNK}" if pad else f"one id is {UNK}"
            raise RnnkitError(
                f"--vocab-size must be >= {len(specials) + 1} ({roles}); got {max_size}"
            )
        counts: Counter[str] = Counter()
        for t in texts:
            counts.update(tokenize(t, lower, newlines))
        for special in specials:
            counts.pop(special, None)
        common = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))[: max_size - len(specials)]
        return cls("word", [*specials, *sorted(word for word, _ in common)], lower, newlines)

    @property
    def unk(self) -> int | None:
        """Id of ``<unk>`` at word level; None at char level."""
        return self.index[UNK] if self.level == "word" else None

    @property
    def pad(self) -> int | None:
        """Id of ``<pad>`` (0) when the vocabulary has one, else None."""
        return self.index.get(PAD)

    def units(self, text: str) -> list[str]:
        """``text`` cut into this level's units (characters or words)."""
        if self.level == "char":
            return list(text)
        return tokenize(text, self.lower, self.newlines)

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
        return {
            "level": self.level,
            "tokens": list(self.tokens),
            "lower": self.lower,
            "newlines": self.newlines,
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Vocab:
        """The inverse of :meth:`to_dict` (also reads checkpoints written before the options)."""
        return cls(d["level"], list(d["tokens"]), d.get("lower", False), d.get("newlines", True))


def _show(units: list[str], limit: int = 20) -> str:
    shown = " ".join(repr(u) for u in units[:limit])
    return shown + (f" ... ({len(units)} in all)" if len(units) > limit else "")
