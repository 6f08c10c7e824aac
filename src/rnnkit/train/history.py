"""What a run reports: metrics.jsonl (one JSON object per logged step or evaluation) and a plot.

Records carry ``step`` and either training values (``loss``, ``lr``, ``tokens_per_s``) or
validation values (``val_*``). On resume, ``MetricsLog`` drops the records written after the
checkpoint it resumes from, so the file reads as one uninterrupted run.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

from ..atomic import atomic_write

__all__ = ["MetricsLog", "plot_curves"]


class MetricsLog:
    """Appends JSON lines to ``path``; ``truncate_after(step)`` forgets later records."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)

    def records(self) -> list[dict[str, Any]]:
        """Every complete record in the file (a torn last line from a kill is skipped)."""
        if not self.path.exists():
            return []
        out = []
        for line in self.path.read_text().splitlines():
            try:
                out.append(json.loads(line))
            except json.JSONDecodeError:
                continue
        return out

    def truncate_after(self, step: int) -> None:
        """Keep only the records of steps <= ``step``."""
        kept = [r for r in self.records() if r.get("step", 0) <= step]
        self.path.write_text("".join(json.dumps(r) + "\n" for r in kept))

    def write(self, record: dict[str, Any]) -> None:
        """Append one record."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.path, "a") as f:
            f.write(json.dumps(record) + "\n")


def plot_curves(records: list[dict[str, Any]], path: str | Path, monitor: str = "loss") -> bool:
    """Draw training loss and validation ``monitor`` against step into ``path`` (PNG).

    Returns False (and draws nothing) when matplotlib is missing or there is nothing to draw.
    """
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return False
    train = [(r["step"], r["loss"]) for r in records if "loss" in r]
    key = f"val_{monitor}"
    val = [(r["step"], r[key]) for r in records if key in r and math.isfinite(r[key])]
    if not train and not val:
        return False
    fig, ax = plt.subplots(figsize=(7, 4), dpi=100)
    if train:
        ax.plot(*zip(*train), label="train loss", linewidth=1, alpha=0.8)
    if val:
        ax.plot(*zip(*val), "o-", label=f"validation {monitor}", linewidth=2)
    ax.set_xlabel("step")
    ax.set_ylabel("loss (nats per token)")
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    atomic_write(path, lambda f: fig.savefig(f, format="png"), binary=True)
    plt.close(fig)
    return True
