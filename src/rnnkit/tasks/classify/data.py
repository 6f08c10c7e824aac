"""Reading labelled texts from CSV or JSONL, and the seeded stratified train/val/test split.

``read_examples`` checks everything a user can get wrong in the file (missing, wrong format,
unknown column, empty text or label in some row, bad encoding) and says where; its texts have
their whitespace runs (line breaks too) collapsed to single spaces. ``split_indices`` holds
out the same fraction of every class for test and validation.
"""

from __future__ import annotations

import csv
import io
import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from ...data.files import read_text_file
from ...data.records import json_text, jsonl_objects
from ...errors import RnnkitError

__all__ = ["FORMATS", "clean_text", "read_examples", "split_indices"]

FORMATS = (".csv", ".jsonl")  # file name suffixes read_examples understands


def clean_text(text: str) -> str:
    """``text`` with every run of whitespace (line breaks included) made one space, trimmed."""
    return " ".join(text.split())


def read_examples(
    path: str | os.PathLike,
    text_column: str = "text",
    label_column: str | None = "label",
    encoding: str = "utf-8",
    flag: str = "--data",
) -> tuple[list[str], list[str]]:
    """(texts, labels) of a ``.csv`` (header row) or ``.jsonl`` (one object per line) file.

    Labels are strings (a JSON number 1 becomes "1"). ``label_column=None`` reads texts only
    and returns an empty label list. ``RnnkitError`` names the row of any empty field; its
    messages start with ``flag`` (the option that gave ``path``).
    """
    p = Path(path)
    if p.suffix.lower() not in FORMATS:
        kind = f"{p.suffix!r} files" if p.suffix else "files without a suffix"
        raise RnnkitError(
            f"{flag} {path}: unsupported file format ({kind}); expected {' or '.join(FORMATS)}"
        )
    content = read_text_file(p, flag, encoding, encoding_flag=True)  # (byte-order mark dropped)
    columns = (text_column,) if label_column is None else (text_column, label_column)
    reader = _read_csv if p.suffix.lower() == ".csv" else _read_jsonl
    rows = reader(content, columns, f"{flag} {path}")
    if not rows:
        raise RnnkitError(f"{flag} {path}: no examples in the file")
    for values, where in rows:
        for column, value in zip(columns, values):
            if not value.strip():
                raise RnnkitError(f"{flag} {path}: {where} has an empty {column!r}")
    texts = [clean_text(values[0]) for values, _ in rows]
    labels = [values[1].strip() for values, _ in rows] if label_column is not None else []
    return texts, labels


def _read_csv(content: str, columns: Sequence[str], name: str) -> list[tuple[list[str], str]]:
    """[(values of ``columns``, "row R (line L)")] of a CSV text with a header row."""
    reader = csv.reader(io.StringIO(content, newline=""))
    try:
        header = next(reader, None)
        if header is None:
            raise RnnkitError(f"{name}: the file is empty")
        header = [h.strip() for h in header]
        _check_columns(columns, header, name)
        where = [header.index(c) for c in columns]
        rows, line = [], reader.line_num
        for number, record in enumerate(reader, start=1):
            start, line = line + 1, reader.line_num
            if not any(field.strip() for field in record):
                continue  # a blank line between records
            if len(record) != len(header):
                raise RnnkitError(
                    f"{name}: row {number} (line {start}) has {len(record)} fields; "
                    f"the header has {len(header)}"
                )
            rows.append(([record[i] for i in where], f"row {number} (line {start})"))
    except csv.Error as exc:
        raise RnnkitError(
            f"{name}: not a readable CSV file (line {reader.line_num}: {exc})"
        ) from None
    return rows


def _read_jsonl(content: str, columns: Sequence[str], name: str) -> list[tuple[list[str], str]]:
    """[(values of ``columns``, "line L")] of a text with one JSON object per line."""
    rows = []
    for number, record in jsonl_objects(content, name, '{"text": ..., "label": ...}'):
        _check_columns(columns, list(record), name, f" on line {number}")
        rows.append(([json_text(record[c]) for c in columns], f"line {number}"))
    return rows


def _check_columns(wanted: Sequence[str], available: list[str], name: str, where: str = "") -> None:
    missing = [c for c in wanted if c not in available]
    if missing:
        flag = "--text-column" if missing[0] == wanted[0] else "--label-column"
        shown = ", ".join(repr(c) for c in available) or "none"
        raise RnnkitError(
            f"{name}: no column {missing[0]!r}{where} ({flag}); the columns are: {shown}"
        )


def split_indices(
    labels: np.ndarray, val_split: float, test_split: float, seed: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(train, val, test) indices: each class shuffled (seeded) and cut so that test gets
    ``round(test_split * n_c)`` of its n_c examples and validation ``round(val_split * rest)``.

    ``labels``: (N,) class ids. Every split comes back sorted.
    """
    rng = np.random.default_rng([seed, 1])
    parts: list[list[np.ndarray]] = [[], [], []]
    for c in np.unique(labels):
        idx = rng.permutation(np.flatnonzero(labels == c))
        n_test = round(test_split * len(idx))
        n_val = round(val_split * (len(idx) - n_test))
        parts[2].append(idx[:n_test])
        parts[1].append(idx[n_test : n_test + n_val])
        parts[0].append(idx[n_test + n_val :])
    train, val, test = (np.sort(np.concatenate(p)).astype(np.int64) for p in parts)
    return train, val, test
