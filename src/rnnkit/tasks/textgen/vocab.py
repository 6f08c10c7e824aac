"""Character and word vocabularies of textgen: text <-> token ids, saved inside the checkpoint.

The class lives with the tokenizer in :mod:`rnnkit.data.text` (``rnnkit classify`` uses it
too) and is re-exported here. Char level: every distinct character of the training text,
sorted. Word level: the ``max_size - 1`` most frequent words, numbers and punctuation marks
plus ``<unk>``; newlines are tokens of their own so the play format (speaker lines, verse
lines) survives.
"""

from __future__ import annotations

from ...data.text import UNK, Vocab, word_split

__all__ = ["UNK", "Vocab", "word_split"]
