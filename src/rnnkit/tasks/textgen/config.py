"""``TextgenConfig`` (data and model options of ``rnnkit textgen train``) and its training defaults.

``TRAIN_DEFAULTS`` is the generic ``TrainConfig`` with the values chosen for the default
command: a char-level LSTM on the bundled Shakespeare that reached 1.542 nats/char (README has
the measured numbers and times).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from ...layers.registry import LAYERS
from ...train import TrainConfig, opt

__all__ = ["TRAIN_DEFAULTS", "TextgenConfig"]


@dataclass
class TextgenConfig:
    """What to learn from, and the model's shape."""

    data: str | None = opt(None, "UTF-8 text file to learn from; default: bundled Shakespeare")
    encoding: str = opt("utf-8", "text encoding of --data")
    level: str = opt("char", "tokens: characters or words", choices=("char", "word"))
    vocab_size: int = opt(10000, "word level: keep this many most frequent tokens (with <unk>)")
    cell: str = opt("lstm", "recurrent cell", choices=tuple(LAYERS))
    layers: int = opt(1, "stacked recurrent layers")
    hidden: int = opt(256, "hidden units per layer")
    embed: int = opt(64, "embedding size")
    dropout: float = opt(0.0, "dropout on embeddings, between layers and before the output")
    seq_len: int = opt(100, "tokens per chunk of truncated BPTT (state carries across chunks)")
    batch_size: int = opt(128, "parallel streams per step (global, over all processes)")
    reset_prob: float = opt(
        0.02, "chance per chunk that a stream's carried state is reset (sampling starts at zero)"
    )
    val_fraction: float = opt(0.05, "fraction of the text held out for validation")
    val_blocks: int = opt(10, "validation is the last --val-fraction of each of this many blocks")
    eval_tokens: int = opt(0, "evaluate on this many validation tokens; 0 = all of them")


TRAIN_DEFAULTS = dataclasses.replace(
    TrainConfig(),
    steps=1000,  # 12.8M characters (128 x 100 per step), 2.8 passes over the plays
    lr=4e-3,  # Adam; with warm-up and cosine decay to 4e-4
    warmup=50,
    eval_every=200,
    save_every=50,
    out=None,  # a fresh folder per run: runs/textgen, runs/textgen-2, ... (train.runs)
)
