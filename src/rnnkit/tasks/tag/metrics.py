"""Metrics of sequence labelling: token accuracy, entity precision / recall / F1 per type and
micro-averaged (CoNLL conventions, as the ``seqeval`` package computes them), word-level F1 of
segmentation, the per-tag confusion matrix; and the printed table.

Entities are compared as exact (type, first, last) spans per sentence: a predicted entity is
correct only when a gold one has the same type and the same ends. P = correct / predicted,
R = correct / gold, F1 = 2PR / (P + R), each 0 where its denominator is 0.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from typing import Any

import numpy as np

from .schemes import entity_spans, word_spans

__all__ = [
    "entity_scores",
    "format_report",
    "prf",
    "segmentation_scores",
    "tag_confusion",
    "token_accuracy",
]


def prf(correct: int, predicted: int, gold: int) -> dict[str, float]:
    """Precision, recall and F1 from counts (0 where undefined), with the counts."""
    p = correct / predicted if predicted else 0.0
    r = correct / gold if gold else 0.0
    f = 2 * p * r / (p + r) if p + r else 0.0
    return {"precision": p, "recall": r, "f1": f, "support": gold, "predicted": predicted}


def token_accuracy(gold: Sequence[Sequence[str]], pred: Sequence[Sequence[str]]) -> float:
    """Share of tokens whose predicted tag equals the gold one."""
    right = sum(g == p for gs, ps in zip(gold, pred) for g, p in zip(gs, ps))
    total = sum(len(gs) for gs in gold)
    return right / total if total else 0.0


def _check(gold: Sequence[Sequence[str]], pred: Sequence[Sequence[str]]) -> None:
    if len(gold) != len(pred) or any(len(g) != len(p) for g, p in zip(gold, pred)):
        raise ValueError("gold and predicted tags must have the same sentences and lengths")


def entity_scores(gold: Sequence[Sequence[str]], pred: Sequence[Sequence[str]]) -> dict[str, Any]:
    """{"micro": prf, "per_type": {type: prf}} of entity spans (BIO or BIOES tags)."""
    _check(gold, pred)
    correct, n_pred, n_gold = Counter(), Counter(), Counter()
    for gs, ps in zip(gold, pred):
        g, p = set(entity_spans(gs)), set(entity_spans(ps))
        n_gold.update(kind for kind, _, _ in g)
        n_pred.update(kind for kind, _, _ in p)
        correct.update(kind for kind, _, _ in g & p)
    kinds = sorted(set(n_gold) | set(n_pred))
    per_type = {k: prf(correct[k], n_pred[k], n_gold[k]) for k in kinds}
    micro = prf(sum(correct.values()), sum(n_pred.values()), sum(n_gold.values()))
    return {"micro": micro, "per_type": per_type}


def segmentation_scores(
    gold: Sequence[Sequence[str]], pred: Sequence[Sequence[str]]
) -> dict[str, float]:
    """Word-level precision / recall / F1 of BMES tags: a word is right when both its ends are."""
    _check(gold, pred)
    correct = n_pred = n_gold = 0
    for gs, ps in zip(gold, pred):
        g, p = set(word_spans(gs)), set(word_spans(ps))
        correct, n_pred, n_gold = correct + len(g & p), n_pred + len(p), n_gold + len(g)
    return prf(correct, n_pred, n_gold)


def tag_confusion(
    gold: Sequence[Sequence[str]], pred: Sequence[Sequence[str]], labels: Sequence[str]
) -> np.ndarray:
    """(K, K) counts, rows gold tag, columns predicted tag, in the order of ``labels``."""
    index = {label: i for i, label in enumerate(labels)}
    cm = np.zeros((len(labels), len(labels)), dtype=np.int64)
    for gs, ps in zip(gold, pred):
        for g, p in zip(gs, ps):
            cm[index[g], index[p]] += 1
    return cm


def format_report(report: dict[str, Any]) -> str:
    """The printed table of a test report (``rnnkit.tasks.tag.run``'s)."""
    lines = [f"  token accuracy  {report['accuracy']:.4f}"]
    if "segmentation" in report:
        s = report["segmentation"]
        lines.append(
            f"  words           P {s['precision']:.4f}  R {s['recall']:.4f}  F1 {s['f1']:.4f}"
            f"  ({s['support']:,} words)"
        )
    if "entities" in report:
        ents = report["entities"]
        lines.append(f"  {'entity':<10}{'precision':>10}{'recall':>10}{'F1':>10}{'support':>10}")
        rows = [*ents["per_type"].items(), ("micro", ents["micro"])]
        for name, s in rows:
            lines.append(
                f"  {name:<10}{s['precision']:>10.4f}{s['recall']:>10.4f}{s['f1']:>10.4f}"
                f"{s['support']:>10,}"
            )
    return "\n".join(lines)
