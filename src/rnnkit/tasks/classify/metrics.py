"""Classification metrics on class ids: confusion matrix, accuracy, macro-F1, majority baseline,
and how they are shown: a printed table, a PNG, a JSON file written atomically.

Conventions: ``confusion[i, j]`` counts examples of true class i predicted as class j (rows
true, columns predicted). F1 of a class is 2·TP / (2·TP + FP + FN), 0 when the class is
neither present nor predicted; macro-F1 is the plain mean over all C classes.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from ...atomic import atomic_write, write_json_atomic

__all__ = [
    "accuracy",
    "confusion_matrix",
    "f1_per_class",
    "format_confusion",
    "macro_f1",
    "majority_baseline",
    "plot_confusion",
    "write_json",
]


def confusion_matrix(true: np.ndarray, pred: np.ndarray, num_classes: int) -> np.ndarray:
    """(C, C) int64 counts: row = true class, column = predicted class; true, pred (N,)."""
    cm = np.zeros((num_classes, num_classes), dtype=np.int64)
    np.add.at(cm, (np.asarray(true), np.asarray(pred)), 1)
    return cm


def accuracy(cm: np.ndarray) -> float:
    """Share of examples on the diagonal of confusion matrix ``cm``."""
    return float(np.trace(cm) / max(1, cm.sum()))


def f1_per_class(cm: np.ndarray) -> np.ndarray:
    """(C,) F1 of each class from ``cm`` (0 where 2·TP + FP + FN = 0)."""
    tp = np.diag(cm).astype(np.float64)
    fp = cm.sum(axis=0) - tp  # predicted as the class, but of another
    fn = cm.sum(axis=1) - tp  # of the class, predicted as another
    denom = 2 * tp + fp + fn
    return np.divide(2 * tp, denom, out=np.zeros_like(tp), where=denom > 0)


def macro_f1(cm: np.ndarray) -> float:
    """Unweighted mean of the per-class F1 scores."""
    return float(f1_per_class(cm).mean())


def majority_baseline(train_labels: np.ndarray, test_labels: np.ndarray, num_classes: int):
    """(class, accuracy, macro-F1) of always predicting the most frequent training class
    (the lowest id among ties) on ``test_labels``."""
    majority = int(np.bincount(train_labels, minlength=num_classes).argmax())
    cm = confusion_matrix(test_labels, np.full_like(test_labels, majority), num_classes)
    return majority, accuracy(cm), macro_f1(cm)


def format_confusion(cm: np.ndarray, names: list[str]) -> str:
    """``cm`` as a text table with the class names on both axes."""
    width = max(max(len(n) for n in names), len(str(cm.max())), 4)
    lines = ["rows: true class, columns: predicted class"]
    lines.append(" " * (width + 2) + "  ".join(n.rjust(width) for n in names))
    for name, row in zip(names, cm):
        lines.append(name.rjust(width) + "  " + "  ".join(str(v).rjust(width) for v in row))
    return "\n".join(lines)


def plot_confusion(cm: np.ndarray, names: list[str], path: str | Path, title: str = "") -> bool:
    """Draw ``cm`` with its counts into ``path`` (PNG); False when matplotlib is missing."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return False
    size = 2.5 + 0.5 * len(names)
    fig, ax = plt.subplots(figsize=(size + 1, size), dpi=100)
    image = ax.imshow(cm, cmap="Blues")
    fig.colorbar(image, ax=ax)
    ticks = range(len(names))
    ax.set_xticks(ticks, names, rotation=45, ha="right")
    ax.set_yticks(ticks, names)
    ax.set_xlabel("predicted class")
    ax.set_ylabel("true class")
    if title:
        ax.set_title(title)
    for i in ticks:
        for j in ticks:
            dark = cm[i, j] > cm.max() / 2
            ax.text(j, i, str(cm[i, j]), ha="center", va="center", color="w" if dark else "k")
    fig.tight_layout()
    atomic_write(path, lambda f: fig.savefig(f, format="png"), binary=True)
    plt.close(fig)
    return True


def write_json(path: str | Path, record: dict[str, Any]) -> None:
    """Write ``record`` as JSON to ``path`` atomically (a temporary file, then os.replace)."""
    write_json_atomic(path, record, indent=2)
