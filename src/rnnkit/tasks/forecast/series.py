"""Reading a univariate series: the bundled airline passengers or one column of a CSV file.

``read_csv_series`` checks everything a user's file can get wrong and names the line: a
missing or undecodable file, an unknown column (listing the ones there are), an empty row or
cell, a value that is not a finite number. ``next_times`` continues the time stamps past the
end (months ``YYYY-MM``, ISO dates or integers at a constant spacing) to label a forecast.
"""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import io
import itertools
import math
import os
from dataclasses import dataclass

import numpy as np

from ...data.files import read_text_file
from ...errors import RnnkitError

__all__ = ["Series", "bundled_series", "next_times", "read_csv_series"]


@dataclass
class Series:
    """One series of T values in time order."""

    name: str  # file path or bundled dataset name
    column: str  # the column the values came from
    time_column: str | None  # the column of time stamps, if any
    times: list[str]  # (T,) time stamps as written; row numbers "1", "2", ... without one
    values: np.ndarray  # (T,) float64
    lines: list[int]  # (T,) line of the file each value came from (1 = the header)

    def sha256(self) -> str:
        """Digest of the values and time stamps (what ``--resume`` compares)."""
        h = hashlib.sha256(np.ascontiguousarray(self.values, dtype=np.float64).tobytes())
        h.update("\n".join(self.times).encode("utf-8"))
        return h.hexdigest()


def bundled_series() -> Series:
    """The default series: monthly airline passengers 1949-1960 (144 values)."""
    from ...data import load_airline_passengers

    months, values = load_airline_passengers()
    lines = list(range(2, len(values) + 2))
    return Series("airline_passengers", "passengers", "month", months, values, lines)


def _decode(path: str | os.PathLike) -> str:
    return read_text_file(path, "--data", what="CSV text")


def _find(header: list[str], name: str, flag: str, path: str | os.PathLike) -> int:
    if name not in header:
        raise RnnkitError(
            f"{flag} {name!r} is not a column of {path}; its columns are: {', '.join(header)}"
        )
    return header.index(name)


def _parse(cell: str, line: int, column: str, path: str | os.PathLike) -> float:
    try:
        value = float(cell)
    except ValueError:
        raise RnnkitError(
            f"--data {path} line {line}: {cell!r} in column {column!r} is not a number"
        ) from None
    if not math.isfinite(value):
        raise RnnkitError(
            f"--data {path} line {line}: {cell!r} in column {column!r} is not a finite number"
        )
    return value


def read_csv_series(path: str | os.PathLike, column: str | None, time_column: str | None) -> Series:
    """The values of ``column`` (and stamps of ``time_column``) of the CSV file ``path``."""
    reader = csv.reader(io.StringIO(_decode(path), newline=""))
    header = [name.strip() for name in next(reader, [])]
    if not any(header):
        raise RnnkitError(f"--data {path}: the file is empty (a header row is needed)")
    if column is None:
        raise RnnkitError(f"--data needs --column NAME; {path} has columns: {', '.join(header)}")
    col = _find(header, column, "--column", path)
    tcol = None if time_column is None else _find(header, time_column, "--time-column", path)
    times, values, lines, blank = [], [], [], None
    for row in reader:
        line = reader.line_num
        if not any(cell.strip() for cell in row):
            blank = blank or line  # empty rows are allowed only at the very end
            continue
        if blank is not None:
            raise RnnkitError(f"--data {path} line {blank}: empty row")
        for name, i in ((column, col), (time_column, tcol)):
            if i is not None and (i >= len(row) or not row[i].strip()):
                raise RnnkitError(f"--data {path} line {line}: empty cell in column {name!r}")
        values.append(_parse(row[col].strip(), line, column, path))
        times.append(row[tcol].strip() if tcol is not None else str(len(values)))
        lines.append(line)
    if not values:
        raise RnnkitError(f"--data {path} has a header but no rows")
    return Series(str(path), column, time_column, times, np.array(values), lines)


def _months(times: list[str]) -> list[tuple[int, int]] | None:
    try:
        out = [(int(t[:4]), int(t[5:7])) for t in times]
    except ValueError:
        return None
    ok = all(len(t) == 7 and t[4] == "-" and 1 <= m <= 12 for t, (_, m) in zip(times, out))
    return out if ok else None


def next_times(times: list[str], count: int) -> list[str]:
    """The ``count`` stamps after ``times`` when they are monthly ``YYYY-MM``, ISO dates or
    integers at one constant spacing; empty strings when the spacing cannot be told."""
    if len(times) < 2 or count < 1:
        return [""] * count
    months = _months(times)
    if months is not None:
        index = [12 * y + m - 1 for y, m in months]
        step = index[1] - index[0]
        if step > 0 and all(b - a == step for a, b in itertools.pairwise(index)):
            ahead = [index[-1] + step * k for k in range(1, count + 1)]
            return [f"{i // 12:04d}-{i % 12 + 1:02d}" for i in ahead]
        return [""] * count
    for parse, show in ((int, str), (dt.date.fromisoformat, dt.date.isoformat)):
        try:
            stamps = [parse(t) for t in times]
        except ValueError:
            continue
        step = stamps[1] - stamps[0]
        if all(b - a == step for a, b in itertools.pairwise(stamps)) and stamps[1] > stamps[0]:
            return [show(stamps[-1] + step * k) for k in range(1, count + 1)]
        return [""] * count
    return [""] * count
