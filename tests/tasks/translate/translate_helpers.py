"""Data files and argv builders shared by the translate tests (a module: conftest names collide)."""

from __future__ import annotations

import csv
import json
import random
from pathlib import Path

# tiny model, one thread, the reference backend (plain autograd: no C++ build to wait for)
TINY = ("--embed", "8", "--hidden", "8", "--batch-size", "8", "--eval-every", "3")
QUIET = ("--no-plot", "--no-progress", "--threads", "1", "--backend", "reference")
SPLITS = ("--val-split", "0.1", "--test-split", "0.1")


def reversals(n: int = 200, seed: int = 0, letters: str = "abcdef", longest: int = 5):
    """``n`` (word, its letters reversed and spaced) pairs: ("abc", "c b a")."""
    rng = random.Random(seed)
    pairs = []
    for _ in range(n):
        word = "".join(rng.choice(letters) for _ in range(rng.randint(1, longest)))
        pairs.append((word, " ".join(reversed(word))))
    return pairs


def write_tsv(path: Path, rows, header=("source", "target"), delimiter="\t") -> Path:
    """``rows`` under ``header`` as a delimited file at ``path``."""
    with open(path, "w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f, delimiter=delimiter)
        writer.writerow(header)
        writer.writerows(rows)
    return path


def write_jsonl(path: Path, records) -> Path:
    """One JSON object per line."""
    path.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
    return path


def train_args(data, out, *extra) -> list[str]:
    """argv of a tiny, quick ``translate train`` run on ``data`` into ``out``."""
    return ["translate", "train", "--data", str(data), *TINY, *QUIET, *SPLITS, "--out", str(out),
            *extra]  # fmt: skip
