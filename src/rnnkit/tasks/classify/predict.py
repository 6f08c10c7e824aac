"""Using a trained classifier: ``load_classifier(path).predict(texts)``, and ``rnnkit classify
predict``.

The checkpoint holds everything needed: the model's config, its weights, the vocabulary and
the label names, so a run directory (best.pt, else last.pt) or a .pt file is all it takes:

    >>> clf = load_classifier("runs/classify")
    >>> labels, probs = clf.predict(["A gorgeous, witty film.", "Dull and far too long."])
"""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

import numpy as np
import torch

from ...data.files import read_text_lines
from ...data.text import Vocab
from ...errors import CheckpointError, RnnkitError
from ...train.recipe import load_task_checkpoint
from .batches import encode_texts
from .config import ClassifyConfig
from .data import FORMATS, clean_text, read_examples
from .model import TextClassifier
from .run import build_model
from .task import predict_split

__all__ = ["Classifier", "load_classifier", "predict", "read_texts"]


@dataclass
class Classifier:
    """A trained ``TextClassifier`` with its text pipeline and label names (eval mode, CPU)."""

    model: TextClassifier
    vocab: Vocab
    labels: list[str]  # name of each class id
    config: ClassifyConfig  # the run's data and model options (maxlen, truncating, ...)
    checkpoint: dict[str, Any]  # the checkpoint it came from

    def predict_proba(self, texts: Sequence[str]) -> np.ndarray:
        """(N, C) probability of every class (columns in the order of ``labels``)."""
        if isinstance(texts, str):
            raise TypeError("predict expects a list of texts; got one str (wrap it in a list)")
        cleaned = [clean_text(t) for t in texts]
        if not cleaned:
            return np.zeros((0, len(self.labels)))
        data = encode_texts(self.vocab, cleaned, self.config.maxlen, self.config.truncating)
        probs, _ = predict_split(self.model, data, torch.device("cpu"))
        return probs

    def predict(self, texts: Sequence[str]) -> tuple[list[str], np.ndarray]:
        """(label of each text, its probability (N,)): the most probable class per text."""
        probs = self.predict_proba(texts)
        best = probs.argmax(axis=1) if len(probs) else np.zeros(0, dtype=np.int64)
        return [self.labels[i] for i in best], probs[np.arange(len(best)), best]


def load_classifier(path: str | os.PathLike) -> Classifier:
    """The classifier saved in a run directory (best.pt, else last.pt) or a checkpoint file."""
    ckpt, p = load_task_checkpoint(path, "classify")
    try:
        cfg = ClassifyConfig(**ckpt["config"]["classify"])
        vocab = Vocab.from_dict(ckpt["vocab"])
        labels = [str(name) for name in ckpt["labels"]]
        model = build_model(cfg, len(vocab), len(labels))
        model.load_state_dict(ckpt["model"])
    except (KeyError, TypeError, ValueError, RuntimeError) as exc:
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0][:160]
        raise CheckpointError(f"{p} is not a usable classify checkpoint: {first}") from None
    model.eval()
    return Classifier(model, vocab, labels, cfg, ckpt)


def read_texts(path: str | os.PathLike, text_column: str = "text") -> list[str]:
    """Texts to classify from ``path``: the ``text_column`` of a .csv / .jsonl file, else one
    text per non-blank line of a UTF-8 text file."""
    p = Path(path)
    if p.suffix.lower() in FORMATS:
        return read_examples(p, text_column, None, flag="--input")[0]
    return read_text_lines(p, "--input")


def predict(
    checkpoint: str | os.PathLike,
    texts: Sequence[str] = (),
    input_path: str | os.PathLike | None = None,
    text_column: str | None = None,
    out: TextIO | None = None,
) -> tuple[list[str], np.ndarray]:
    """Print ``label<TAB>probability<TAB>text`` for each of ``texts`` or the texts of the file
    ``input_path`` (not both); returns (labels, probabilities (N,))."""
    out = out or sys.stdout
    if texts and input_path is not None:
        raise RnnkitError("give texts as arguments or --input FILE, not both")
    if not texts and input_path is None:
        raise RnnkitError("nothing to classify: give texts as arguments or --input FILE")
    clf = load_classifier(checkpoint)
    if input_path is not None:
        texts = read_texts(input_path, text_column or clf.config.text_column)
    labels, probs = clf.predict(list(texts))
    for label, prob, text in zip(labels, probs, texts):
        out.write(f"{label}\t{prob:.4f}\t{clean_text(text)}\n")
    out.flush()
    return labels, probs
