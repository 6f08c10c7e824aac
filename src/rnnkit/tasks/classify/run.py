"""``train(cfg, train_cfg)``: what ``rnnkit classify train`` does, from the file to the test report.

``ClassifyRecipe`` is the recipe (``train.recipe.run_recipe`` runs it). Every check of the
user's input (options, data file, columns, rows, classes, split sizes, output directory, the
checkpoint to resume) runs before anything is written, and fails with ``RnnkitError``: nothing
is overwritten. After training, the best checkpoint (lowest validation ``--monitor``) is
evaluated once on the held-out test split: accuracy, macro-F1 and the confusion matrix beside
the majority-class baseline, printed and written to ``test_metrics.json`` (and
``confusion.png``) in the run folder.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ...data import load_movie_reviews
from ...data.text import Vocab
from ...errors import RnnkitError
from ...train import BEST, LAST, TrainConfig, load_checkpoint
from ...train.recipe import Recipe, Run, run_recipe
from .batches import EncodedTexts, ShuffledBatches, encode_texts
from .config import ClassifyConfig, resolve_defaults
from .data import read_examples, split_indices
from .metrics import (
    accuracy,
    confusion_matrix,
    f1_per_class,
    format_confusion,
    macro_f1,
    majority_baseline,
    plot_confusion,
    write_json,
)
from .model import TextClassifier
from .task import ClassifyTask, predict_split
from .tokens import LEVELS, level_vocab, unk_id

__all__ = [
    "METRICS_FILE",
    "MONITORS",
    "RECIPE",
    "ClassifyData",
    "ClassifyRecipe",
    "build_model",
    "build_vocab",
    "split_report",
    "train",
]

METRICS_FILE = "test_metrics.json"  # the test report in the run folder
MONITORS = ("error", "loss")  # validation metrics of ClassifyTask.evaluate


def _check_options(cfg: ClassifyConfig, tcfg: TrainConfig) -> None:
    for name in ("layers", "hidden", "embed", "batch_size", "maxlen"):
        if getattr(cfg, name) < 1:
            flag = "--" + name.replace("_", "-")
            raise RnnkitError(f"{flag} must be >= 1; got {getattr(cfg, name)}")
    if cfg.vocab_size < 3:
        raise RnnkitError(
            f"--vocab-size must be >= 3 (ids 0, 1 are <pad>, <unk>); got {cfg.vocab_size}"
        )
    for name in ("val_split", "test_split"):
        if not 0 < getattr(cfg, name) < 1:
            flag = "--" + name.replace("_", "-")
            raise RnnkitError(f"{flag} must be between 0 and 1; got {getattr(cfg, name)}")
    for name in ("dropout", "word_dropout"):
        if not 0 <= getattr(cfg, name) < 1:
            flag = "--" + name.replace("_", "-")
            raise RnnkitError(f"{flag} must be in [0, 1); got {getattr(cfg, name)}")
    if cfg.level not in LEVELS:
        raise RnnkitError(f"--level must be one of {', '.join(LEVELS)}; got {cfg.level}")
    if tcfg.monitor not in MONITORS:
        raise RnnkitError(
            f"--monitor must be one of {', '.join(MONITORS)} (lower is better); got {tcfg.monitor}"
        )


def _load_data(cfg: ClassifyConfig) -> tuple[list[str], list[str]]:
    if cfg.data is None:
        return load_movie_reviews()
    return read_examples(cfg.data, cfg.text_column, cfg.label_column, cfg.encoding)


def _check_splits(n: int, parts: tuple[np.ndarray, ...], cfg: ClassifyConfig) -> None:
    for name, part in zip(("training", "validation", "test"), parts):
        if len(part) == 0:
            raise RnnkitError(
                f"{n} examples are too few for --test-split {cfg.test_split} and --val-split "
                f"{cfg.val_split}: the {name} split would be empty"
            )


def build_vocab(cfg: ClassifyConfig, texts: list[str]) -> Vocab:
    """The vocabulary (``cfg.level``: words or characters) of the training texts: <pad> = 0,
    <unk> = 1, the most frequent ``cfg.vocab_size - 2`` tokens."""
    return level_vocab(texts, cfg.level, cfg.vocab_size, cfg.lower)


def build_model(cfg: ClassifyConfig, vocab_size: int, num_classes: int) -> TextClassifier:
    """The ``TextClassifier`` that ``cfg`` describes (defaults resolved as training does)."""
    cfg = resolve_defaults(cfg)
    return TextClassifier(
        vocab_size,
        num_classes,
        cfg.embed,
        cfg.hidden,
        cfg.layers,
        cfg.cell,
        cfg.bidirectional,
        cfg.pooling,
        cfg.dropout,
    )


def _labelled(cfg: ClassifyConfig) -> tuple[list[str], list[str], np.ndarray]:
    """(texts, class names sorted, (N,) class id of each text) of the data ``cfg`` names."""
    texts, names = _load_data(cfg)
    classes = sorted(set(names))
    if len(classes) < 2:
        raise RnnkitError(
            f"the labels ({cfg.label_column!r}) hold a single class, {classes[0]!r}; "
            "a classifier needs at least two"
        )
    index = {name: i for i, name in enumerate(classes)}
    return texts, classes, np.array([index[n] for n in names], dtype=np.int64)


@dataclass
class ClassifyData:
    """The labelled texts as the model sees them: vocabulary, classes and the three splits."""

    vocab: Vocab
    classes: list[str]  # name of each class id
    train_labels: np.ndarray  # (N_train,) class ids of the training split (the baseline's)
    train: EncodedTexts
    val: EncodedTexts
    test: EncodedTexts
    batches: ShuffledBatches  # this rank's rows of each global batch

    def sizes(self) -> dict[str, int]:
        """Examples per split."""
        return {"train": len(self.train), "validation": len(self.val), "test": len(self.test)}


class ClassifyRecipe(Recipe):
    """Text classification: labelled texts in, a tested classifier out."""

    name = "classify"

    def resolve(self, cfg: ClassifyConfig) -> ClassifyConfig:
        return resolve_defaults(cfg)

    def check(self, cfg: ClassifyConfig, tcfg: TrainConfig) -> None:
        _check_options(cfg, tcfg)

    def load(self, cfg: ClassifyConfig):
        texts, classes, labels = _labelled(cfg)
        pairs = [texts, [classes[i] for i in labels]]
        digest = hashlib.sha256(json.dumps(pairs).encode("utf-8")).hexdigest()
        return (texts, classes, labels), digest

    def build_data(self, cfg: ClassifyConfig, tcfg, raw, env, resume) -> ClassifyData:
        texts, classes, labels = raw
        parts = split_indices(labels, cfg.val_split, cfg.test_split, tcfg.seed)
        _check_splits(len(labels), parts, cfg)
        if resume is not None:
            vocab = Vocab.from_dict(resume["vocab"])
        else:
            vocab = build_vocab(cfg, [texts[i] for i in parts[0]])
        train_set, val_set, test_set = (
            encode_texts(vocab, [texts[i] for i in idx], cfg.maxlen, cfg.truncating, labels[idx])
            for idx in parts
        )
        batches = ShuffledBatches(train_set.lengths, cfg.batch_size, tcfg.seed, cfg.bucket)
        batches.shard(env.rank, env.world_size)
        return ClassifyData(vocab, classes, labels[parts[0]], train_set, val_set, test_set, batches)

    def build_model(self, cfg: ClassifyConfig, data: ClassifyData) -> TextClassifier:
        return build_model(cfg, len(data.vocab), len(data.classes))

    def task(self, cfg: ClassifyConfig, tcfg, data: ClassifyData, env) -> ClassifyTask:
        unk = unk_id(data.vocab)
        return ClassifyTask(data.train, data.batches, data.val, env.device, cfg.word_dropout, unk)

    def extra(self, data: ClassifyData) -> dict[str, Any]:
        return {"vocab": data.vocab.to_dict(), "labels": data.classes}

    def describe(self, cfg: ClassifyConfig, data: ClassifyData, model, env) -> str:
        sizes = data.sizes()
        return (
            f"classify: {sum(sizes.values()):,} examples ({sizes['train']:,} train, "
            f"{sizes['validation']:,} validation, {sizes['test']:,} test), "
            f"{len(data.classes)} classes, vocabulary {len(data.vocab):,}, "
            f"{sum(p.numel() for p in model.parameters()):,} parameters "
            f"(dropout {cfg.dropout:g}), {env.world_size} process(es) x "
            f"{torch.get_num_threads()} threads"
        )

    def report(self, run: Run) -> dict[str, Any]:
        data: ClassifyData = run.data
        report = _test(
            run.model, run.tcfg, data.test, data.train_labels, data.classes, run.env.device
        )
        report.update(examples=data.sizes(), train_seconds=round(run.seconds, 1))
        write_json(run.out / METRICS_FILE, report)
        run.log(_summary(report, data.classes))
        run.log(f"test report in {run.out / METRICS_FILE}")
        return report


RECIPE = ClassifyRecipe()


def train(
    cfg: ClassifyConfig, tcfg: TrainConfig, log: Callable[[str], None] = print
) -> dict[str, Any]:
    """Train a text classifier as configured; returns the test report (the last validation
    metrics on ranks > 0)."""
    return run_recipe(RECIPE, cfg, tcfg, log)


def _test(
    model: TextClassifier,
    tcfg: TrainConfig,
    test: EncodedTexts,
    train_labels: np.ndarray,
    classes: list[str],
    device: torch.device,
) -> dict[str, Any]:
    """The report of the best checkpoint on the test split (and confusion.png with --plot)."""
    name = BEST if (Path(tcfg.out) / BEST).exists() else LAST  # no best.pt if val was NaN
    best = load_checkpoint(Path(tcfg.out) / name)
    model.load_state_dict(best["model"])
    report = split_report(model, test, train_labels, classes, device)
    validation = {k: float(v) for k, v in best["last_eval"].items()}
    report.update(checkpoint=name, step=best["step"], validation=validation)
    if tcfg.plot:
        title = f"test accuracy {report['accuracy']:.3f}, macro-F1 {report['macro_f1']:.3f}"
        cm = np.array(report["confusion_matrix"])
        plot_confusion(cm, classes, Path(tcfg.out) / "confusion.png", title)
    return report


def split_report(
    model: torch.nn.Module,
    test: EncodedTexts,
    train_labels: np.ndarray,
    classes: list[str],
    device: torch.device,
) -> dict[str, Any]:
    """Accuracy, macro-F1, per-class F1 and confusion matrix of ``model`` on ``test``, with the
    majority-class baseline (the most frequent class of ``train_labels``)."""
    probs, total = predict_split(model, test, device)
    true = test.labels.numpy()
    cm = confusion_matrix(true, probs.argmax(axis=1), len(classes))
    majority, base_acc, base_f1 = majority_baseline(train_labels, true, len(classes))
    return {
        "labels": classes,
        "accuracy": accuracy(cm),
        "macro_f1": macro_f1(cm),
        "loss": total / len(test),
        "f1_per_class": dict(zip(classes, f1_per_class(cm).tolist())),
        "confusion_matrix": cm.tolist(),
        "majority_baseline": {
            "label": classes[majority],
            "accuracy": base_acc,
            "macro_f1": base_f1,
        },
    }


def _summary(report: dict[str, Any], classes: list[str]) -> str:
    base, cm = report["majority_baseline"], np.array(report["confusion_matrix"])
    return "\n".join(
        [
            f"test ({cm.sum():,} examples, {report['checkpoint']} of step {report['step']}):",
            f"  accuracy  {report['accuracy']:.4f}   majority baseline {base['accuracy']:.4f} "
            f"(always {base['label']!r})",
            f"  macro-F1  {report['macro_f1']:.4f}   majority baseline {base['macro_f1']:.4f}",
            format_confusion(cm, classes),
        ]
    )
