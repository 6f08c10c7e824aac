"""``train(cfg, train_cfg)``: what ``rnnkit classify train`` does, from the file to the test report.

Every check of the user's input (options, data file, columns, rows, classes, split sizes,
output directory, the checkpoint to resume) runs before anything is written, and fails with
``RnnkitError``: nothing is overwritten. After training, the best checkpoint (lowest
validation ``--monitor``) is evaluated once on the held-out test split: accuracy, macro-F1 and
the confusion matrix beside the majority-class baseline, printed and written to
``test_metrics.json`` (and ``confusion.png``) in ``--out``.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ...data import load_movie_reviews
from ...data.text import Vocab
from ...errors import RnnkitError
from ...train import BEST, LAST, TrainConfig, Trainer, load_checkpoint
from ...train.recipe import check_same_run, check_train_options, prepare_out, run_config, setup
from .batches import EncodedTexts, ShuffledBatches, encode_texts
from .config import ClassifyConfig
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

__all__ = ["METRICS_FILE", "MONITORS", "build_model", "build_vocab", "split_report", "train"]

METRICS_FILE = "test_metrics.json"  # the test report in --out
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
    if tcfg.monitor not in MONITORS:
        raise RnnkitError(
            f"--monitor must be one of {', '.join(MONITORS)} (lower is better); got {tcfg.monitor}"
        )
    check_train_options(tcfg)


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
    """The word vocabulary of the training texts: <pad> = 0, <unk> = 1, the most frequent
    ``cfg.vocab_size - 2`` tokens."""
    return Vocab.build(texts, "word", cfg.vocab_size, lower=cfg.lower, newlines=False, pad=True)


def build_model(cfg: ClassifyConfig, vocab_size: int, num_classes: int) -> TextClassifier:
    """The ``TextClassifier`` that ``cfg`` describes."""
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


def train(
    cfg: ClassifyConfig, tcfg: TrainConfig, log: Callable[[str], None] = print
) -> dict[str, Any]:
    """Train a text classifier as configured; returns the test report (empty on ranks > 0)."""
    _check_options(cfg, tcfg)
    env = setup(tcfg)
    say = log if env.is_main else (lambda _: None)
    resume = prepare_out(tcfg)
    texts, classes, labels = _labelled(cfg)
    pairs = [texts, [classes[i] for i in labels]]
    digest = hashlib.sha256(json.dumps(pairs).encode("utf-8")).hexdigest()
    config = run_config("classify", cfg, tcfg, digest)
    if resume is not None:
        check_same_run(resume["config"], config, Path(tcfg.out) / LAST)
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
    torch.manual_seed(tcfg.seed)
    model = build_model(cfg, len(vocab), len(classes))
    task = ClassifyTask(train_set, batches, val_set, env.device, cfg.word_dropout, vocab.unk)
    sizes = {"train": len(train_set), "validation": len(val_set), "test": len(test_set)}
    say(
        f"classify: {len(labels):,} examples ({sizes['train']:,} train, {sizes['validation']:,} "
        f"validation, {sizes['test']:,} test), {len(classes)} classes, vocabulary "
        f"{len(vocab):,}, {sum(p.numel() for p in model.parameters()):,} parameters, "
        f"{env.world_size} process(es) x {torch.get_num_threads()} threads"
    )
    extra = {"vocab": vocab.to_dict(), "labels": classes}
    trainer = Trainer(model, task, tcfg, env, config, extra, log=say)
    start = time.perf_counter()
    trainer.fit(resume=resume)
    seconds = time.perf_counter() - start
    if not env.is_main:
        return {}
    report = _test(model, tcfg, test_set, labels[parts[0]], classes, env.device)
    report.update(examples=sizes, train_seconds=round(seconds, 1))
    write_json(Path(tcfg.out) / METRICS_FILE, report)
    say(_summary(report, classes))
    say(f"done in {seconds:.0f} s; checkpoints and {METRICS_FILE} in {tcfg.out}")
    return report


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
