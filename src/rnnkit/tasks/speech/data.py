"""Recordings and their transcripts: a directory of WAV files, the alphabet, the splits.

``read_recordings(data, transcripts, sample_rate, alphabet)`` reads every ``.wav`` below the
directory ``data``. Transcripts come from a CSV file with the columns ``path,text`` (and an
optional ``speaker``; paths relative to ``data``) or, without one, from Free Spoken Digit
Dataset names ``{digit}_{speaker}_{take}.wav``. ``Alphabet`` maps transcripts to symbol ids
1..K (0 is the CTC blank): each character of the text is one symbol; a space is a symbol only
where the alphabet holds one, otherwise spaces are dropped and every symbol is a word (digit
strings: ``"4 0 7"`` and ``"407"`` are the same three words).

``split_recordings`` holds out the test set: the recordings of ``test_speaker``
(leave-one-speaker-out), else FSDD's own split (takes 0-4 of every speaker and digit), else a
seeded random fraction; then a seeded random fraction of the rest for validation.
"""

from __future__ import annotations

import csv
import hashlib
import io
import os
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ...data.files import read_text_file
from ...errors import RnnkitError
from .audio import read_wav

__all__ = [
    "FSDD_NAME",
    "FSDD_TEST_TAKES",
    "Alphabet",
    "Recording",
    "digest",
    "list_wavs",
    "read_recordings",
    "split_recordings",
]

FSDD_NAME = re.compile(r"^(\d)_([A-Za-z0-9-]+)_(\d+)\.wav$", re.IGNORECASE)
FSDD_TEST_TAKES = 5  # FSDD's split: takes 0-4 of every speaker and digit are the test set
FSDD_URL = "https://github.com/Jakobovski/free-spoken-digit-dataset"


class Alphabet:
    """The output symbols: ids 1..K for the characters of ``symbols``; 0 is the CTC blank."""

    def __init__(self, symbols: str) -> None:
        if not symbols or len(set(symbols)) != len(symbols):
            raise RnnkitError(f"--alphabet must list distinct symbols; got {symbols!r}")
        self.symbols = symbols
        self.ids = {s: i + 1 for i, s in enumerate(symbols)}
        self.space = self.ids.get(" ")  # the word separator's id, or None: each symbol a word

    def __len__(self) -> int:
        return len(self.symbols) + 1  # with the blank

    def encode(self, text: str, where: str = "") -> tuple[int, ...]:
        """Symbol ids of ``text``; ``RnnkitError`` naming ``where`` for a foreign character."""
        text = " ".join(text.split()) if self.space else "".join(text.split())
        for ch in text:
            if ch not in self.ids:
                raise RnnkitError(
                    f"{where}: transcript {text!r} has {ch!r}, which is not in the alphabet "
                    f"{self.symbols!r} (--alphabet)"
                )
        if not text:
            raise RnnkitError(f"{where}: empty transcript")
        return tuple(self.ids[ch] for ch in text)

    def decode(self, ids: Sequence[int]) -> str:
        """The text of symbol ids (blanks skipped)."""
        return "".join(self.symbols[i - 1] for i in ids if i > 0)

    def words(self, ids: Sequence[int]) -> list[tuple[int, ...]]:
        """The words of a symbol sequence: split at spaces, or every symbol one word."""
        if self.space is None:
            return [(i,) for i in ids]
        words, word = [], []
        for i in ids:
            if i == self.space:
                if word:
                    words.append(tuple(word))
                word = []
            else:
                word.append(i)
        return [*words, tuple(word)] if word else words


@dataclass
class Recording:
    """One WAV file: its samples, transcript and who spoke it."""

    path: str  # relative to the data directory
    audio: np.ndarray  # (N,) float32 samples in [-1, 1]
    text: str
    symbols: tuple[int, ...]  # ids of the alphabet
    speaker: str  # "" where unknown
    take: int | None = None  # FSDD take index, None for other names


def list_wavs(data: str | os.PathLike) -> list[Path]:
    """Every ``.wav`` file below ``data``, sorted; ``RnnkitError`` when there is none."""
    root = Path(data)
    if not root.is_dir():
        raise RnnkitError(f"--data {data}: no such directory")
    paths = sorted(p for p in root.rglob("*") if p.suffix.lower() == ".wav" and p.is_file())
    if not paths:
        raise RnnkitError(f"--data {data}: no WAV files (*.wav) in the directory")
    return paths


def _from_names(root: Path, paths: list[Path]) -> list[tuple[Path, str, str, int]]:
    rows = []
    for p in paths:
        m = FSDD_NAME.match(p.name)
        if m is None:
            raise RnnkitError(
                f"{p}: no transcript: give --transcripts FILE.csv (columns path,text) or name "
                "the files {digit}_{speaker}_{take}.wav as the Free Spoken Digit Dataset does"
            )
        rows.append((p, m.group(1), m.group(2), int(m.group(3))))
    return rows


def _from_csv(root: Path, transcripts: str) -> list[tuple[Path, str, str, None]]:
    text = read_text_file(transcripts, "--transcripts", what="CSV text")
    reader = csv.DictReader(io.StringIO(text, newline=""))
    missing = {"path", "text"} - set(reader.fieldnames or ())
    if missing:
        raise RnnkitError(
            f"--transcripts {transcripts}: needs the columns path,text; it has "
            f"{','.join(reader.fieldnames or ()) or 'none'}"
        )
    records = list(reader)
    rows = []
    for i, r in enumerate(records, start=2):
        path = root / (r["path"] or "").strip()
        if not (r["path"] or "").strip() or not path.is_file():
            raise RnnkitError(f"--transcripts {transcripts} line {i}: {path}: no such file")
        rows.append((path, r["text"] or "", (r.get("speaker") or "").strip(), None))
    if not rows:
        raise RnnkitError(f"--transcripts {transcripts}: no rows")
    return rows


def read_recordings(
    data: str | os.PathLike, transcripts: str | None, sample_rate: int, alphabet: Alphabet
) -> list[Recording]:
    """Every recording of ``data`` with its transcript (see the module docstring)."""
    root = Path(data)
    paths = list_wavs(root)
    rows = _from_csv(root, transcripts) if transcripts else _from_names(root, paths)
    out = []
    for path, text, speaker, take in rows:
        symbols = alphabet.encode(text, str(path))
        audio = read_wav(path, sample_rate)
        rel = os.path.relpath(path, root)
        out.append(Recording(rel, audio, text.strip(), symbols, speaker, take))
    return out


def digest(recordings: Sequence[Recording]) -> str:
    """sha256 hex digest of the recordings' names, transcripts, speakers and samples."""
    h = hashlib.sha256()
    for r in recordings:
        h.update(f"{r.path}\0{r.text}\0{r.speaker}\0".encode())
        h.update(r.audio.tobytes())
    return h.hexdigest()


def split_recordings(
    recordings: Sequence[Recording],
    test_speaker: str | None,
    test_split: float,
    val_split: float,
    seed: int,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(train, validation, test) index arrays (see the module docstring)."""
    n = len(recordings)
    rng = np.random.default_rng([seed, 19])
    if test_speaker is not None:
        speakers = sorted({r.speaker for r in recordings})
        if test_speaker not in speakers:
            raise RnnkitError(
                f"--test-speaker {test_speaker}: no such speaker; the speakers are "
                f"{', '.join(speakers)}"
            )
        is_test = np.array([r.speaker == test_speaker for r in recordings])
    elif all(r.take is not None for r in recordings):
        is_test = np.array([r.take < FSDD_TEST_TAKES for r in recordings])
    else:
        is_test = np.zeros(n, dtype=bool)
        is_test[rng.permutation(n)[: round(n * test_split)]] = True
    test, rest = np.flatnonzero(is_test), rng.permutation(np.flatnonzero(~is_test))
    n_val = round(len(rest) * val_split)
    train, val = np.sort(rest[n_val:]), np.sort(rest[:n_val])
    for name, part in (("training", train), ("validation", val), ("test", test)):
        if len(part) == 0:
            raise RnnkitError(
                f"{n} recordings are too few for the split (--test-split {test_split}, "
                f"--val-split {val_split}): the {name} set would be empty"
            )
    return train, val, test
