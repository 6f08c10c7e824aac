"""How a classifier's texts become ids at each ``--level``: words, or single characters.

Word level is ``rnnkit.data.text``'s tokenizer (words and punctuation marks). Character level
reads every character as a token, spaces included: DNA and protein sequences, Chinese text,
anything whose words are not separated by spaces. Both vocabularies start with ``<pad>`` (id
0) and ``<unk>`` (id 1), then the most frequent ``max_size - 2`` units of the training texts
(ties by spelling) in sorted order; a unit outside them (a character never seen in training,
say ``N`` in a DNA read) becomes ``<unk>``. The vocabulary travels in the checkpoint with its
level and ``lower``, so prediction cuts texts as training did:

    >>> vocab = level_vocab(["GATTACA", "gattaca!"], "char", max_size=10, lower=True)
    >>> vocab.tokens
    ['<pad>', '<unk>', '!', 'a', 'c', 'g', 't']
    >>> encode_text(vocab, "CAT N").tolist()  # ' ' and 'n' never appeared in training
    [4, 3, 6, 1, 1]
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence

import numpy as np

from ...data.text import PAD, UNK, Vocab
from ...errors import RnnkitError

__all__ = ["LEVELS", "encode_text", "level_vocab", "unk_id"]

LEVELS = ("word", "char")  # units a text is cut into


def level_vocab(texts: Sequence[str], level: str, max_size: int, lower: bool) -> Vocab:
    """The ``level`` vocabulary of ``texts``: ``<pad>``, ``<unk>``, then the ``max_size - 2``
    most frequent units (see the module docstring); ``lower`` lower-cases texts first."""
    if level == "word":
        return Vocab.build(texts, "word", max_size, lower=lower, newlines=False, pad=True)
    if level != "char":
        raise RnnkitError(f"--level must be one of {', '.join(LEVELS)}; got {level!r}")
    if max_size < 3:
        roles = f"ids 0 and 1 are {PAD} and {UNK}"
        raise RnnkitError(f"--vocab-size must be >= 3 ({roles}); got {max_size}")
    counts: Counter[str] = Counter()
    for text in texts:
        counts.update(text.lower() if lower else text)
    common = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))[: max_size - 2]
    return Vocab("char", [PAD, UNK, *sorted(c for c, _ in common)], lower=lower, newlines=False)


def encode_text(vocab: Vocab, text: str) -> np.ndarray:
    """Ids (L,) int64 of ``text``'s units in ``vocab``; unknown ones are ``<unk>``."""
    if vocab.level == "word":
        return vocab.encode(text)
    chars = text.lower() if vocab.lower else text
    unk = vocab.index[UNK]
    return np.fromiter((vocab.index.get(c, unk) for c in chars), np.int64, len(chars))


def unk_id(vocab: Vocab) -> int:
    """Id of ``<unk>`` at either level (what word dropout puts in a unit's place)."""
    return vocab.index[UNK]
