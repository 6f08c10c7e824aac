"""Reading tagged sentences: CoNLL-U, CoNLL / IOB2 columns, and ``word/TAG`` tokens.

``read_tagged(path, fmt, tag_column)`` returns ``Sentence``s (tokens, tags, and the line of
each token for error messages). Files may be ``.xz`` or ``.gz`` compressed. The format comes
from ``fmt``, else from the suffix (``.conllu``; ``.conll``, ``.iob``, ``.iob2``, ``.bio``,
``.bioes``, ``.tsv``), else from the first sentence:

- ``conllu``: 10 tab-separated columns; the word is FORM (column 2), the tag UPOS (column 4,
  ``--tag-column upos``), XPOS (``xpos``, column 5) or column N; multi-word token lines
  (``1-2``) and empty nodes (``1.1``) are skipped, ``#`` lines are comments.
- ``conll``: one token per line, columns split by tabs (by blanks where a line has no tab),
  a blank line between sentences; the word is column 1 (column 2 when column 1 is a running
  index 1, 2, ...), the tag the last column or column N; ``#`` and ``-DOCSTART-`` lines skipped.
- ``slash``: one sentence per line, tokens ``word/TAG`` separated by blanks (the tag is what
  follows the last ``/``).

Everything a user can get wrong raises ``RnnkitError`` naming the file and the line.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path

from ...data.files import read_text_file
from ...errors import RnnkitError

__all__ = ["FORMATS", "Sentence", "read_tagged", "tag_column_index"]

FORMATS = ("conllu", "conll", "slash")
_SUFFIXES = {".conllu": "conllu", ".conll": "conll", ".iob": "conll", ".iob2": "conll",
             ".bio": "conll", ".bioes": "conll", ".tsv": "conll"}  # fmt: skip
_CONLLU_COLUMNS = {"upos": 4, "xpos": 5}  # 1-based column of each named tag column
_SLASH_TOKEN = re.compile(r"[^\s]+/[^\s/]+")


@dataclass
class Sentence:
    """One tagged sentence: tokens, their tags, and the file line of each token."""

    tokens: list[str]
    tags: list[str]
    lines: list[int] = field(default_factory=list)


def tag_column_index(tag_column: str | None, fmt: str) -> int | None:
    """The 1-based tag column that ``--tag-column`` names for ``fmt`` (None: the format's
    default); ``RnnkitError`` for a name or number that cannot be one."""
    if tag_column is None:
        return None
    if tag_column.isdigit() and int(tag_column) >= 1:
        return int(tag_column)
    if tag_column in _CONLLU_COLUMNS:
        if fmt != "conllu":
            raise RnnkitError(f"--tag-column {tag_column} names a CoNLL-U column; for {fmt} "
                              "give the column's number")  # fmt: skip
        return _CONLLU_COLUMNS[tag_column]
    raise RnnkitError(f"unknown --tag-column {tag_column!r}: expected upos, xpos or a column "
                      "number (1 is the first)")  # fmt: skip


def _text(path: str | os.PathLike, flag: str) -> str:
    text = read_text_file(path, flag, what="tagged text", compressed=True)
    if not text.strip():
        raise RnnkitError(f"{flag} {path}: the file is empty")
    return text


def _detect(path: Path, lines: list[str], flag: str) -> str:
    name = path.name[: -len(path.suffix)] if path.suffix in (".xz", ".gz") else path.name
    suffix = Path(name).suffix.lower()
    if suffix in _SUFFIXES:
        return _SUFFIXES[suffix]
    first = next(line for line in lines if line.strip() and not line.startswith("#"))
    fields = first.split("\t")
    if len(fields) == 10 and re.fullmatch(r"\d+([-.]\d+)?", fields[0]):
        return "conllu"
    if "\t" in first:
        return "conll"
    tokens = first.split()
    if all(_SLASH_TOKEN.fullmatch(t) for t in tokens):
        return "slash"
    if len(tokens) >= 2:
        return "conll"
    raise RnnkitError(f"{flag} {path}: line 1 is in none of the formats {', '.join(FORMATS)}: "
                      "give --format")  # fmt: skip


def read_tagged(
    path: str | os.PathLike,
    fmt: str | None = None,
    tag_column: str | None = None,
    flag: str = "--data",
) -> list[Sentence]:
    """The tagged sentences of ``path`` (see the module docstring)."""
    if fmt is not None and fmt not in FORMATS:
        raise RnnkitError(f"--format must be one of {', '.join(FORMATS)}; got {fmt}")
    lines = _text(path, flag).splitlines()
    fmt = fmt or _detect(Path(path), lines, flag)
    column = tag_column_index(tag_column, fmt)
    where = f"{flag} {path}"
    if fmt == "slash":
        sentences = _read_slash(lines, where)
    else:
        sentences = _read_columns(lines, fmt, column, where)
    if not sentences:
        raise RnnkitError(f"{where}: no tagged sentences in the file")
    return sentences


def _read_slash(lines: list[str], where: str) -> list[Sentence]:
    sentences = []
    for number, line in enumerate(lines, start=1):
        tokens = line.split()
        if not tokens:
            continue
        words, tags = [], []
        for token in tokens:
            word, slash, tag = token.rpartition("/")
            if not slash or not word or not tag:
                raise RnnkitError(f"{where}: line {number}: token {token!r} is not word/TAG "
                                  "(the slash format)")  # fmt: skip
            words.append(word)
            tags.append(tag)
        sentences.append(Sentence(words, tags, [number] * len(words)))
    return sentences


def _read_columns(lines: list[str], fmt: str, column: int | None, where: str) -> list[Sentence]:
    sentences: list[Sentence] = []
    rows: list[tuple[int, list[str]]] = []
    width: tuple[int, int] | None = None  # (line, columns) of the first token line (conll)
    for number, line in enumerate([*lines, ""], start=1):
        if not line.strip():
            if rows:
                sentences.append(_sentence(rows, fmt, column, where))
                rows = []
            continue
        if line.startswith("#") or line.startswith("-DOCSTART-"):
            continue
        fields = line.split("\t") if "\t" in line else line.split()
        if fmt == "conllu":
            if len(fields) != 10:
                raise RnnkitError(f"{where}: line {number} has {len(fields)} tab-separated "
                                  "columns; CoNLL-U has 10")  # fmt: skip
            if not fields[0].isdigit():  # 1-2 (multi-word token), 1.1 (empty node)
                continue
        elif width is None:
            width = (number, len(fields))
        elif len(fields) != width[1]:
            raise RnnkitError(f"{where}: line {number} has {len(fields)} columns, line "
                              f"{width[0]} {width[1]}: not a CoNLL file of one token per "
                              "line (give --format)")  # fmt: skip
        rows.append((number, [f.strip() for f in fields]))
    return sentences


def _sentence(rows: list[tuple[int, list[str]]], fmt: str, column: int | None, where: str):
    if fmt == "conllu":
        word, tag = 2, column or 4
    else:
        indexed = all(fields[0] == str(i) for i, (_, fields) in enumerate(rows, start=1))
        word = 2 if indexed and len(rows[0][1]) > 2 else 1
        tag = column or len(rows[0][1])
    words, tags, numbers = [], [], []
    for number, fields in rows:
        if len(fields) < max(tag, word, 2):
            raise RnnkitError(f"{where}: line {number} has {len(fields)} column(s); the tag "
                              f"column {tag} is missing")  # fmt: skip
        value = fields[tag - 1]
        if not value or value == "_":
            raise RnnkitError(f"{where}: line {number} has no tag in column {tag} ({value!r})")
        words.append(fields[word - 1])
        tags.append(value)
        numbers.append(number)
    return Sentence(words, tags, numbers)
