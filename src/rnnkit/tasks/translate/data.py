"""Source/target pairs: reading them from a file or the bundled CMU dictionary, and the split.

``read_pairs`` reads a ``.tsv`` / ``.csv`` (header row naming the columns) or ``.jsonl`` (one
object per line) file and checks everything a user can get wrong in it (missing file, unknown
column, wrong delimiter, a line that does not parse, an empty source or target, bad encoding),
naming the file and the line. ``load_cmudict`` gives the CMU Pronouncing Dictionary as
(letters, ARPAbet phonemes with or without stress) pairs, every pronunciation of a word its
own pair.
``split_by_source`` cuts the pairs 90/5/5 (by default) by source, seeded, so that every
target of a source lands in the same split.
"""

from __future__ import annotations

import csv
import io
import lzma
import os
import re
from collections.abc import Sequence
from importlib import resources
from pathlib import Path

import numpy as np

from ...data.files import read_text_file
from ...data.records import json_text, jsonl_objects
from ...errors import RnnkitError
from .metrics import unstressed

__all__ = ["FORMATS", "Pairs", "load_cmudict", "read_pairs", "split_by_source"]

FORMATS = (".tsv", ".csv", ".jsonl")  # file name suffixes read_pairs understands
Pairs = list[tuple[str, str]]  # (source text, target text)
_DELIMITERS = {".tsv": "\t", ".csv": ","}
_VARIANT = re.compile(r"\(\d+\)$")  # cmudict's "word(2)": the second pronunciation of word


def load_cmudict(stress: bool = True) -> Pairs:
    """(word, pronunciation) of every entry of the bundled CMU Pronouncing Dictionary, in file
    order: ("abbey", "AE1 B IY0"); a word with alternate pronunciations comes once per
    pronunciation; the 22 comments ("# place, danish") are dropped. ``stress=False``: vowels
    without their stress digit ("AE B IY", the 39 phonemes of published G2P results), and an
    alternate that then equals an earlier pronunciation of its word is dropped."""
    path = resources.files("rnnkit.data") / "corpora" / "cmudict.dict.xz"
    text = lzma.decompress(path.read_bytes()).decode("utf-8")
    pairs = []
    for line in text.splitlines():
        fields = line.split("#", 1)[0].split()
        if len(fields) >= 2:
            pairs.append((_VARIANT.sub("", fields[0]), " ".join(fields[1:])))
    if not stress:
        pairs = list(dict.fromkeys((w, " ".join(unstressed(t.split()))) for w, t in pairs))
    return pairs


def read_pairs(
    path: str | os.PathLike,
    source_column: str = "source",
    target_column: str = "target",
    encoding: str = "utf-8",
    flag: str = "--data",
) -> Pairs:
    """(source, target) of every row of ``path`` (see the module docstring); whitespace runs
    in each field are made single spaces. ``RnnkitError`` messages start with ``flag``."""
    p = Path(path)
    suffix = p.suffix.lower()
    name = f"{flag} {path}"
    if suffix not in FORMATS:
        kind = f"{p.suffix!r} files" if p.suffix else "files without a suffix"
        raise RnnkitError(
            f"{name}: unsupported file format ({kind}); expected .tsv, .csv or .jsonl"
        )
    content = read_text_file(p, flag, encoding, what="text pairs", encoding_flag=True)
    columns = (source_column, target_column)
    if suffix == ".jsonl":
        rows = _jsonl_rows(content, columns, name)
    else:
        rows = _delimited_rows(content, columns, name, _DELIMITERS[suffix])
    if not rows:
        raise RnnkitError(f"{name}: no pairs in the file")
    pairs = []
    for (source, target), line in rows:
        for column, value in zip(columns, (source, target)):
            if not value.strip():
                raise RnnkitError(f"{name}: line {line} has an empty {column!r}")
        pairs.append((" ".join(source.split()), " ".join(target.split())))
    return pairs


def _columns_error(name: str, column: str, header: Sequence[str], where: str) -> RnnkitError:
    flag = "--source-column" if where.startswith("s") else "--target-column"
    shown = ", ".join(repr(c) for c in header) or "none"
    hint = ""
    if len(header) == 1:
        hint = " (one column only: is the delimiter right? .tsv files are tab-separated, "
        hint += ".csv comma-separated)"
    return RnnkitError(f"{name}: no column {column!r} ({flag}); the columns are: {shown}{hint}")


def _delimited_rows(content: str, columns, name: str, delimiter: str) -> list:
    """[((source, target), line)] of a delimited text with a header row."""
    reader = csv.reader(io.StringIO(content, newline=""), delimiter=delimiter)
    rows = []
    try:
        header = [h.strip() for h in next(reader, [])]
        if not header:
            raise RnnkitError(f"{name}: the file is empty")
        for column, role in zip(columns, ("source", "target")):
            if column not in header:
                raise _columns_error(name, column, header, role)
        where = [header.index(c) for c in columns]
        line = reader.line_num
        for record in reader:
            start, line = line + 1, reader.line_num
            if not any(field.strip() for field in record):
                continue  # a blank line
            if len(record) != len(header):
                raise RnnkitError(
                    f"{name}: line {start} has {len(record)} fields; the header has {len(header)}"
                )
            rows.append(((record[where[0]], record[where[1]]), start))
    except csv.Error as exc:
        raise RnnkitError(f"{name}: line {reader.line_num} does not parse ({exc})") from None
    return rows


def _jsonl_rows(content: str, columns, name: str) -> list:
    """[((source, target), line)] of a text with one JSON object per line."""
    rows = []
    like = f"{{{columns[0]!r}: ..., {columns[1]!r}: ...}}"
    for number, record in jsonl_objects(content, name, like):
        for column, role in zip(columns, ("source", "target")):
            if column not in record:
                raise _columns_error(name, column, list(record), role + f" on line {number}")
        rows.append((tuple(json_text(record[c]) for c in columns), number))
    return rows


def split_by_source(
    pairs: Pairs, val_split: float, test_split: float, seed: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(train, val, test) pair indices, each sorted: the distinct sources (sorted, then
    shuffled with ``seed``) are cut so that test gets ``round(test_split * n)`` of the n
    sources and validation ``round(val_split * n)``; every pair goes where its source went."""
    sources = sorted({s for s, _ in pairs})
    order = np.random.default_rng([seed, 16]).permutation(len(sources))
    n_test, n_val = round(test_split * len(sources)), round(val_split * len(sources))
    part = np.zeros(len(sources), dtype=np.int64)  # 0 train, 1 validation, 2 test
    part[order[:n_test]] = 2
    part[order[n_test : n_test + n_val]] = 1
    where = {s: part[i] for i, s in enumerate(sources)}
    of_pair = np.array([where[s] for s, _ in pairs], dtype=np.int64)
    return tuple(np.flatnonzero(of_pair == k) for k in range(3))  # type: ignore[return-value]
