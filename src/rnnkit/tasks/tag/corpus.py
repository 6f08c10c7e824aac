"""The three tasks of the bundled People's Daily corpus (``rnnkit.data.load_peoples_daily``).

- ``ner``: person, place and organization names (PER from a run of consecutive ``nr`` words:
  a family and a given name are two ``nr`` words; LOC from ``ns``; ORG from ``nt``), as BIO
  tags per character (``level="char"``, the default) or per word.
- ``segment``: word segmentation, B/M/E/S per character (begin, middle, end of a word, single).
- ``pos``: the PKU part-of-speech tag of each word (``level="word"``).

Each sentence's "line" is its 1-based index in the corpus.
"""

from __future__ import annotations

from ...data import load_peoples_daily
from ...errors import RnnkitError
from .formats import Sentence
from .schemes import Span, spans_to_tags

__all__ = ["ENTITY_TYPES", "bmes_tags", "peoples_daily", "word_entities"]

ENTITY_TYPES = {"nr": "PER", "ns": "LOC", "nt": "ORG"}  # PKU tag -> entity type


def word_entities(tags: list[str]) -> list[Span]:
    """Entity spans over words of PKU tags: each ``ns`` / ``nt`` word one entity, each run of
    consecutive ``nr`` words one PER."""
    spans: list[Span] = []
    for i, tag in enumerate(tags):
        kind = ENTITY_TYPES.get(tag)
        if kind is None:
            continue
        if kind == "PER" and i and tags[i - 1] == "nr":
            spans[-1] = (kind, spans[-1][1], i)  # the given name after the family name
        else:
            spans.append((kind, i, i))
    return spans


def bmes_tags(words: list[str]) -> list[str]:
    """B/M/E/S of each character of the words."""
    tags = []
    for word in words:
        tags += ["S"] if len(word) == 1 else ["B", *["M"] * (len(word) - 2), "E"]
    return tags


def _char_spans(words: list[str], spans: list[Span]) -> list[Span]:
    starts = [0]
    for word in words:
        starts.append(starts[-1] + len(word))
    return [(kind, starts[a], starts[b + 1] - 1) for kind, a, b in spans]


def peoples_daily(task: str, level: str) -> list[Sentence]:
    """The corpus as sentences of ``task`` ("ner", "segment", "pos") at ``level``."""
    if task == "segment" and level != "char":
        raise RnnkitError("--task segment tags characters: use --level char")
    if task == "pos" and level != "word":
        raise RnnkitError("--task pos tags words: use --level word")
    sentences = []
    for number, pairs in enumerate(load_peoples_daily(), start=1):
        words = [w for w, _ in pairs]
        pos = [t for _, t in pairs]
        if task == "pos":
            tokens, tags = words, pos
        elif task == "segment":
            tokens, tags = list("".join(words)), bmes_tags(words)
        elif level == "word":
            tokens, tags = words, spans_to_tags(len(words), word_entities(pos))
        else:
            tokens = list("".join(words))
            tags = spans_to_tags(len(tokens), _char_spans(words, word_entities(pos)))
        sentences.append(Sentence(tokens, tags, [number] * len(tokens)))
    return sentences
