"""``train(cfg, train_cfg)``: what ``rnnkit tag train`` does, from the file to the test report.

``TagRecipe`` is the recipe (``train.recipe.run_recipe`` runs it). The sentences come from
``--data`` (split into train / validation / test unless ``--val-data`` / ``--test-data`` are
given) or from the bundled People's Daily corpus; entity tags are checked against their
scheme (BIO or BIOES, each file's own) and converted to ``--scheme``, all before anything is
written. After training, the best checkpoint is scored once on the test split: token
accuracy, entity P/R/F1 per type and micro (ner), word F1 (segment); printed, written to
``test_metrics.json``, with the per-tag confusion matrix in ``confusion.png``.
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

from ...errors import RnnkitError
from ...train import BEST, LAST, TrainConfig, load_checkpoint
from ...train.recipe import Recipe, Run, run_recipe
from ..classify.metrics import plot_confusion, write_json
from .config import TagConfig, check_config, resolve_defaults
from .corpus import peoples_daily
from .data import EncodedTags, Vocabularies, encode, split_indices
from .formats import Sentence, read_tagged
from .metrics import format_report, tag_confusion
from .model import SequenceTagger
from .schemes import detect_scheme, first_invalid, to_bio, to_bioes
from .task import SentenceBatches, TagTask, predict_ids, score_tags

__all__ = [
    "METRICS_FILE",
    "MONITORS",
    "RECIPE",
    "TagData",
    "TagRecipe",
    "assemble_splits",
    "build_model",
    "load_parts",
    "split_report",
    "train",
]

METRICS_FILE = "test_metrics.json"
MONITORS = ("error", "token_error", "loss")


def model_scheme(cfg: TagConfig) -> str:
    """The scheme of the model's tags: --scheme (ner), bmes (segment), none (pos)."""
    return {"ner": cfg.scheme, "segment": "bmes"}.get(cfg.task, "none")


def prepare_tags(sentences: list[Sentence], cfg: TagConfig, where: str) -> list[Sentence]:
    """Sentences with checked tags in the model's scheme: ``RnnkitError`` naming the line of
    the first tag that breaks the file's scheme (BIO, or BIOES where E-/S- tags appear)."""
    if cfg.task == "pos":
        return sentences
    scheme = "bmes" if cfg.task == "segment" else detect_scheme([s.tags for s in sentences])
    convert = {("bio", "bioes"): to_bioes, ("bioes", "bio"): to_bio}.get((scheme, cfg.scheme))
    out = []
    for s in sentences:
        bad = first_invalid(s.tags, scheme)
        if bad is not None:
            i, reason = bad
            line = s.lines[min(i, len(s.lines) - 1)]
            name = {"bio": "BIO (IOB2)", "bioes": "BIOES", "bmes": "B/M/E/S"}[scheme]
            raise RnnkitError(f"{where}: line {line}: {reason}; the tags are not valid {name} "
                              f"(--task {cfg.task})")  # fmt: skip
        tags = convert(s.tags) if convert and cfg.task == "ner" else s.tags
        out.append(Sentence(s.tokens, tags, s.lines))
    return out


def read_parts(cfg: TagConfig) -> list[tuple[list[Sentence], str]]:
    """[(sentences, where)] of --data, then --val-data and --test-data where given (the bundled
    corpus without --data), tags as the files have them."""
    if cfg.data is None:
        return [(peoples_daily(cfg.task, cfg.level), "the bundled corpus")]
    parts = []
    for flag, path in (("--data", cfg.data), ("--val-data", cfg.val_data),
                       ("--test-data", cfg.test_data)):  # fmt: skip
        if path is not None:
            parts.append((read_tagged(path, cfg.format, cfg.tag_column, flag), f"{flag} {path}"))
    return parts


def load_parts(cfg: TagConfig) -> list[list[Sentence]]:
    """``read_parts``'s sentences with their tags checked and converted to the model's scheme."""
    return [prepare_tags(sentences, cfg, where) for sentences, where in read_parts(cfg)]


def assemble_splits(
    cfg: TagConfig, parts: list[list[Sentence]], seed: int
) -> tuple[list[Sentence], list[Sentence], list[Sentence]]:
    """(train, validation, test): the given files, the rest split off --data by ``seed``."""
    data, rest = parts[0], list(parts[1:])
    val = rest.pop(0) if cfg.val_data is not None else None
    test = rest.pop(0) if cfg.test_data is not None else None
    train_idx, val_idx, test_idx = split_indices(len(data), cfg.val_split, cfg.test_split, seed)
    if test is not None:  # no test split of --data: it goes to training
        train_idx = np.sort(np.concatenate([train_idx, test_idx]))
        test_idx = np.zeros(0, dtype=np.int64)
    if val is not None:
        train_idx = np.sort(np.concatenate([train_idx, val_idx]))
        val_idx = np.zeros(0, dtype=np.int64)
    pick = [[data[i] for i in idx] for idx in (train_idx, val_idx, test_idx)]
    splits = (pick[0], val if val is not None else pick[1], test if test is not None else pick[2])
    for name, part in zip(("training", "validation", "test"), splits):
        if not part:
            raise RnnkitError(f"{len(data)} sentences are too few for --test-split "
                              f"{cfg.test_split} and --val-split {cfg.val_split}: the {name} "
                              "split would be empty")  # fmt: skip
    return splits


@dataclass
class TagData:
    """The sentences as the model sees them: vocabularies and the three splits."""

    vocab: Vocabularies
    train: EncodedTags
    val: EncodedTags
    test: EncodedTags
    val_tags: list[list[str]]
    test_tags: list[list[str]]
    batches: SentenceBatches

    def sizes(self) -> dict[str, int]:
        """Sentences per split."""
        return {"train": len(self.train), "validation": len(self.val), "test": len(self.test)}


def build_model(cfg: TagConfig, vocab: Vocabularies) -> SequenceTagger:
    """The ``SequenceTagger`` that ``cfg`` describes over ``vocab``."""
    cfg = resolve_defaults(cfg)
    return SequenceTagger(
        len(vocab.words), vocab.tags, num_chars=len(vocab.chars), num_bigrams=len(vocab.bigrams),
        embed=cfg.embed, hidden=cfg.hidden, layers=cfg.layers, cell=cfg.cell,
        char_features=cfg.char_features, char_embed=cfg.char_embed,
        char_hidden=cfg.char_hidden, crf=cfg.crf, scheme=model_scheme(cfg), dropout=cfg.dropout,
    )  # fmt: skip


def encode_split(cfg: TagConfig, vocab: Vocabularies, sentences: list[Sentence]) -> EncodedTags:
    """``sentences`` as ids for a model of ``cfg``."""
    tokens, tags = [s.tokens for s in sentences], [s.tags for s in sentences]
    return encode(vocab, tokens, tags, cfg.char_features != "none", bool(cfg.bigrams))


class TagRecipe(Recipe):
    """Sequence labelling: tagged sentences in, a tested tagger out."""

    name = "tag"

    def resolve(self, cfg: TagConfig) -> TagConfig:
        return resolve_defaults(cfg)

    def check(self, cfg: TagConfig, tcfg: TrainConfig) -> None:
        check_config(cfg)
        if tcfg.monitor not in MONITORS:
            raise RnnkitError(f"--monitor must be one of {', '.join(MONITORS)} (lower is "
                              f"better); got {tcfg.monitor}")  # fmt: skip

    def load(self, cfg: TagConfig):
        raw = read_parts(cfg)
        payload = [[[s.tokens, s.tags] for s in part] for part, _ in raw]  # as in the files
        digest = hashlib.sha256(json.dumps(payload, ensure_ascii=False).encode()).hexdigest()
        return [prepare_tags(part, cfg, where) for part, where in raw], digest

    def build_data(self, cfg: TagConfig, tcfg, raw, env, resume) -> TagData:
        train, val, test = assemble_splits(cfg, raw, tcfg.seed)
        if resume is not None:
            vocab = Vocabularies.from_dict(resume["vocab"])
        else:
            every = sorted({t for part in raw for s in part for t in s.tags},
                           key=lambda t: (t != "O", t))  # fmt: skip
            pairs = [(s.tokens, s.tags) for s in train]
            vocab = Vocabularies.build(pairs, cfg.min_count, cfg.lower, bool(cfg.bigrams), every)
        encoded = [encode_split(cfg, vocab, part) for part in (train, val, test)]
        batches = SentenceBatches(encoded[0].lengths, cfg.batch_size, tcfg.seed, cfg.bucket)
        batches.shard(env.rank, env.world_size)
        return TagData(vocab, *encoded, [s.tags for s in val], [s.tags for s in test], batches)

    def build_model(self, cfg: TagConfig, data: TagData) -> SequenceTagger:
        return build_model(cfg, data.vocab)

    def task(self, cfg: TagConfig, tcfg, data: TagData, env) -> TagTask:
        return TagTask(data.train, data.batches, data.val, data.val_tags, data.vocab.tags,
                       cfg.task, env.device, cfg.word_dropout, env.world_size,
                       cfg.rare_dropout, len(data.vocab.words))  # fmt: skip

    def extra(self, data: TagData) -> dict[str, Any]:
        return {"vocab": data.vocab.to_dict()}

    def describe(self, cfg: TagConfig, data: TagData, model, env) -> str:
        sizes, v = data.sizes(), data.vocab
        tokens = int(data.train.lengths.sum())
        return (
            f"tag ({cfg.task}, {cfg.level} level, {'CRF' if cfg.crf else 'softmax'}): "
            f"{sum(sizes.values()):,} sentences ({sizes['train']:,} train with {tokens:,} "
            f"tokens, {sizes['validation']:,} validation, {sizes['test']:,} test), "
            f"{len(v.tags)} tags, vocabulary {len(v.words):,}"
            + (f", {len(v.bigrams):,} bigrams" if v.bigrams else "")
            + f", {sum(p.numel() for p in model.parameters()):,} parameters, "
            f"{env.world_size} process(es) x {torch.get_num_threads()} threads"
        )

    def report(self, run: Run) -> dict[str, Any]:
        data: TagData = run.data
        report = test_report(run.model, run.cfg.task, run.tcfg, data, run.env.device)
        report.update(sentences=data.sizes(), train_seconds=round(run.seconds, 1))
        write_json(run.out / METRICS_FILE, report)
        run.log(f"test ({report['checkpoint']} of step {report['step']}):")
        run.log(format_report(report))
        run.log(f"test report in {run.out / METRICS_FILE}")
        return report


RECIPE = TagRecipe()


def train(cfg: TagConfig, tcfg: TrainConfig, log: Callable[[str], None] = print) -> dict[str, Any]:
    """Train a sequence tagger as configured; returns the test report (the last validation
    metrics on ranks > 0)."""
    return run_recipe(RECIPE, cfg, tcfg, log)


def test_report(
    model, task: str, tcfg: TrainConfig, data: TagData, device: torch.device
) -> dict[str, Any]:
    """The best checkpoint's scores on the test split (and confusion.png with --plot)."""
    name = BEST if (Path(tcfg.out) / BEST).exists() else LAST
    best = load_checkpoint(Path(tcfg.out) / name)
    model.load_state_dict(best["model"])
    report = split_report(model, task, data.test, data.test_tags, data.vocab.tags, device, tcfg)
    validation = {k: float(v) for k, v in best["last_eval"].items()}
    report.update(checkpoint=name, step=best["step"], validation=validation)
    return report


def split_report(
    model, task: str, encoded: EncodedTags, gold: list[list[str]], tags: list[str],
    device: torch.device, tcfg: TrainConfig | None = None,
) -> dict[str, Any]:  # fmt: skip
    """Scores of ``model`` on one split, with its per-tag confusion matrix (drawn into the run
    folder's confusion.png when ``tcfg.plot``)."""
    ids, total = predict_ids(model, encoded, device)
    pred = [[tags[i] for i in row] for row in ids]
    report = score_tags(task, gold, pred)
    cm = tag_confusion(gold, pred, tags)
    report.update(tags=tags, loss=total / max(1, int(encoded.lengths.sum())),
                  confusion_matrix=cm.tolist())  # fmt: skip
    if tcfg is not None and tcfg.plot:
        plot_confusion(cm, tags, Path(tcfg.out) / "confusion.png",
                       f"test token accuracy {report['accuracy']:.4f}")  # fmt: skip
    return report
