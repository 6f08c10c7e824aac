"""Tagged files and argv builders shared by the tag tests (a module: conftest names collide)."""

from __future__ import annotations

import random
from pathlib import Path

NAMES = ("alice", "bruno", "chen", "dara", "emil", "farah", "goran", "hana")
PLACES = ("paris", "lima", "oslo", "quito", "rome", "seoul", "tunis", "xian")
FILLER = ("the", "a", "met", "saw", "then", "went", "home", "today", "and", "later")

# tiny model, one thread, the reference backend (plain autograd: no C++ build to wait for)
TINY = ("--embed", "8", "--hidden", "8", "--char-embed", "4", "--char-hidden", "4")
TINY += ("--batch-size", "4", "--eval-every", "3")
QUIET = ("--no-plot", "--no-progress", "--threads", "1", "--backend", "reference")


def ner_sentences(n: int, seed: int = 0) -> list[list[tuple[str, str]]]:
    """``n`` sentences whose entities show in their context: a name after "met" / "saw" (PER,
    sometimes two words), a place after "in" (LOC)."""
    rng = random.Random(seed)
    out = []
    for _ in range(n):
        s = [(rng.choice(FILLER), "O") for _ in range(rng.randint(0, 3))]
        s.append((rng.choice(("met", "saw")), "O"))
        s.append((rng.choice(NAMES), "B-PER"))
        if rng.random() < 0.4:
            s.append((rng.choice(NAMES), "I-PER"))
        s += [(rng.choice(FILLER), "O"), ("in", "O"), (rng.choice(PLACES), "B-LOC")]
        s += [(rng.choice(FILLER), "O") for _ in range(rng.randint(0, 2))]
        out.append(s)
    return out


def write_conll(path: Path, sentences, index: bool = False) -> Path:
    """One ``word<TAB>tag`` line per token (with a running index first when ``index``)."""
    lines = []
    for s in sentences:
        for i, (word, tag) in enumerate(s, start=1):
            lines.append(f"{i}\t{word}\t{tag}" if index else f"{word}\t{tag}")
        lines.append("")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def write_slash(path: Path, sentences) -> Path:
    """One sentence per line of ``word/TAG`` tokens."""
    text = "".join(" ".join(f"{w}/{t}" for w, t in s) + "\n" for s in sentences)
    path.write_text(text, encoding="utf-8")
    return path


def train_args(data, out, *extra) -> list[str]:
    """argv of a tiny, quick ``tag train`` run on ``data`` into ``out``."""
    return ["tag", "train", "--data", str(data), *TINY, *QUIET, "--out", str(out), *extra]
