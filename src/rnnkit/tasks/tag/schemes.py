"""Tag schemes of chunks (entities, words) over tokens: BIO (IOB2), BIOES and BMES.

A chunk is a run of tokens: in BIO ``B-PER I-PER`` (``I-x`` continues ``B-x`` or ``I-x``);
in BIOES a one-token chunk is ``S-x`` and a longer one ``B-x I-x* E-x``; BMES is BIOES
without types for word segmentation (B, M, E, S: begin, middle, end, single). ``O`` is
outside every chunk.

``entity_spans`` reads chunks with the CoNLL evaluation script's conventions (those of the
``seqeval`` package): an ``I-x`` after ``O`` starts a chunk, a type change ends one, so it
also reads invalid sequences. ``first_invalid`` says where a sequence breaks its scheme;
``to_bioes`` and ``to_bio`` convert between the two entity schemes.
"""

from __future__ import annotations

from collections.abc import Sequence

__all__ = [
    "Span",
    "detect_scheme",
    "entity_spans",
    "first_invalid",
    "spans_to_tags",
    "to_bio",
    "to_bioes",
    "word_spans",
]

Span = tuple[str, int, int]  # (type, first token, last token), both ends inclusive


def _parts(tag: str) -> tuple[str, str]:
    """("B", "PER") of "B-PER"; ("O", "") of "O"; ("S", "") of a bare "S"."""
    prefix, _, kind = tag.partition("-")
    return prefix, kind


def entity_spans(tags: Sequence[str]) -> list[Span]:
    """The chunks of one sentence's tags (BIO or BIOES, valid or not), CoNLL conventions."""
    spans: list[Span] = []
    open_kind: str | None = None  # the type of the chunk in progress
    start, prev = 0, "O"
    for i, tag in enumerate([*tags, "O"]):
        prefix, kind = _parts(tag)
        kind = kind or "_"
        continues = open_kind == kind and prev in ("B", "I") and prefix in ("I", "E")
        if not continues:
            if open_kind is not None:
                spans.append((open_kind, start, i - 1))
            open_kind, start = (None, i) if prefix == "O" else (kind, i)
        prev = prefix
    return spans


def word_spans(tags: Sequence[str]) -> list[tuple[int, int]]:
    """(first, last) character of each word of BMES tags (a word starts at B or S, or where the
    tags break the scheme)."""
    mapped = ["I-W" if t == "M" else f"{t}-W" for t in tags]
    return [(a, b) for _, a, b in entity_spans(mapped)]


def spans_to_tags(n: int, spans: Sequence[Span], scheme: str = "bio") -> list[str]:
    """The BIO or BIOES tags of ``n`` tokens with the (non-overlapping) chunks ``spans``."""
    tags = ["O"] * n
    for kind, a, b in spans:
        if scheme == "bioes" and a == b:
            tags[a] = f"S-{kind}"
            continue
        tags[a] = f"B-{kind}"
        for i in range(a + 1, b + 1):
            tags[i] = f"I-{kind}"
        if scheme == "bioes":
            tags[b] = f"E-{kind}"
    return tags


def to_bioes(tags: Sequence[str]) -> list[str]:
    """BIO tags (valid) as BIOES."""
    return spans_to_tags(len(tags), entity_spans(tags), "bioes")


def to_bio(tags: Sequence[str]) -> list[str]:
    """BIOES tags (valid) as BIO."""
    return spans_to_tags(len(tags), entity_spans(tags), "bio")


def first_invalid(tags: Sequence[str], scheme: str) -> tuple[int, str] | None:
    """(index, reason) of the first tag that breaks ``scheme`` ("bio", "bioes", "bmes"), or
    None when the sequence is valid; index ``len(tags)`` for a chunk left open at the end."""
    prefixes = {"bio": "BIO", "bioes": "BIOES", "bmes": "BMES"}[scheme]
    prev, prev_kind = "O", ""
    for i, tag in enumerate(tags):
        prefix, kind = _parts(tag)
        typed = scheme != "bmes"
        if prefix not in prefixes or (tag != "O" and typed != bool(kind)):
            form = "B, M, E or S" if not typed else f"O or {'/'.join(prefixes[:-1])}-TYPE"
            return i, f"tag {tag!r} is not {form}"
        if prefix == "O" and kind:
            return i, f"tag {tag!r} is not O or X-TYPE"
        inner = prefix in ("I", "M", "E")
        opened = prev in ("B", "I", "M")  # a chunk in progress that must go on (not BIO)
        if scheme == "bio":
            if prefix == "I" and (prev not in ("B", "I") or prev_kind != kind):
                return i, f"{tag} follows {_show(prev, prev_kind)}"
        elif inner != opened or (inner and kind != prev_kind):
            return i, f"{tag} follows {_show(prev, prev_kind)}"
        prev, prev_kind = prefix, kind
    if scheme != "bio" and prev in ("B", "I", "M"):
        return len(tags), f"the sentence ends inside a chunk ({_show(prev, prev_kind)})"
    return None


def _show(prefix: str, kind: str) -> str:
    return f"{prefix}-{kind}" if kind else prefix


def detect_scheme(sentences: Sequence[Sequence[str]]) -> str:
    """ "bioes" when any tag starts with E- or S-, else "bio"."""
    for tags in sentences:
        for tag in tags:
            if tag[:2] in ("E-", "S-"):
                return "bioes"
    return "bio"
