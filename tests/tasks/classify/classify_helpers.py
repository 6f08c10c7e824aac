"""Data files and argv builders shared by the classify tests (a module: conftest names collide)."""

from __future__ import annotations

import csv
import json
from pathlib import Path

GOOD = ("good", "great", "superb", "moving", "witty", "fresh")
BAD = ("bad", "dull", "awful", "tired", "clumsy", "stale")
FILLER = ("the", "plot", "cast", "film", "story", "music", "ending", "script")

# tiny model, one thread, the reference backend (plain autograd: no C++ build to wait for)
TINY = ("--embed", "8", "--hidden", "8", "--batch-size", "4", "--eval-every", "3")
QUIET = ("--no-plot", "--no-progress", "--threads", "1", "--backend", "reference")


def reviews(n: int = 60, classes: tuple[str, ...] = ("neg", "pos")) -> list[tuple[str, str]]:
    """``n`` (text, label) pairs whose label shows in one word; classes take turns."""
    words = {0: BAD, 1: GOOD}
    rows = []
    for i in range(n):
        c = i % len(classes)
        key = words[c][i % 6] if c in words else f"{classes[c]}ish"
        filler = " ".join(FILLER[(i * k) % len(FILLER)] for k in (1, 3, 5)[: 1 + i % 3])
        rows.append((f"The {filler} was {key}, truly {key}.", classes[c]))
    return rows


def write_csv(path: Path, rows, header=("text", "label")) -> Path:
    """``rows`` under ``header`` as a CSV file at ``path``."""
    with open(path, "w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(header)
        writer.writerows(rows)
    return path


def write_jsonl(path: Path, records) -> Path:
    """One JSON object per line."""
    path.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
    return path


def train_args(data, out, *extra) -> list[str]:
    """argv of a tiny, quick ``classify train`` run on ``data`` into ``out``."""
    return ["classify", "train", "--data", str(data), *TINY, *QUIET, "--out", str(out), *extra]
