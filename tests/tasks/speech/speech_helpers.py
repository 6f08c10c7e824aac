"""Audio the speech tests make themselves (a module: conftest names collide): one chirp per
symbol, FSDD-style file names, argv builders."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np

from rnnkit.tasks.speech.audio import write_wav

RATE = 8000
SPEAKERS = ("ann", "bob", "cy")  # each shifts every symbol's pitch a little

# tiny model, one thread, the reference backend (plain autograd: no C++ build to wait for)
TINY = ("--hidden", "16", "--layers", "2", "--batch-size", "8", "--eval-every", "4")
QUIET = ("--no-plot", "--no-progress", "--threads", "1", "--backend", "reference")


def chirp(symbol: int, speaker: int = 0, take: int = 0, rate: int = RATE) -> np.ndarray:
    """A 0.12-0.2 s rising tone for ``symbol`` (start 300 + 300 * symbol Hz), float32."""
    rng = np.random.default_rng([symbol, speaker, take])
    n = int(rate * rng.uniform(0.12, 0.2))
    t = np.arange(n) / rate
    f0 = (300.0 + 300.0 * symbol) * (1 + 0.03 * speaker)
    phase = 2 * np.pi * (f0 * t + 0.5 * 400.0 * t**2)
    envelope = np.sin(np.pi * np.arange(n) / n)
    noise = 0.01 * rng.standard_normal(n)
    return (0.5 * envelope * np.sin(phase) + noise).astype(np.float32)


def write_digits(folder: Path, takes: int = 8, digits: int = 3) -> Path:
    """FSDD-named chirps ``{digit}_{speaker}_{take}.wav`` for every speaker, digit, take."""
    folder.mkdir(parents=True, exist_ok=True)
    for s, speaker in enumerate(SPEAKERS):
        for d in range(digits):
            for k in range(takes):
                write_wav(folder / f"{d}_{speaker}_{k}.wav", chirp(d, s, k), RATE)
    return folder


def write_transcripts(path: Path, rows) -> Path:
    """A transcript CSV with the columns path,text."""
    with open(path, "w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(("path", "text"))
        writer.writerows(rows)
    return path


def train_args(data, out, *extra) -> list[str]:
    """argv of a tiny, quick ``speech train`` run on ``data`` into ``out``."""
    return ["speech", "train", "--data", str(data), *TINY, *QUIET, "--out", str(out), *extra]
