"""``train(cfg, train_cfg)``: what ``rnnkit translate train`` does, from the pairs to the test
report.

``TranslateRecipe`` is the recipe (``train.recipe.run_recipe`` runs it). Every check of the
user's input (options, pairs file, columns, lines, split sizes, output directory, the
checkpoint to resume) runs before anything is written and fails with ``RnnkitError``: nothing
is overwritten. After training, the best checkpoint (lowest validation ``--monitor``) decodes
the held-out test split greedily and with ``--beam-size``; the report (report.py) is printed
and written to ``test_metrics.json``, with ``attention.png`` for a few validation sources.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch

from ...errors import RnnkitError
from ...train import TrainConfig
from ...train.recipe import Recipe, Run, run_recipe
from ..classify.batches import ShuffledBatches
from .config import TranslateConfig
from .data import Pairs, load_cmudict, read_pairs, split_by_source
from .model import Seq2Seq
from .pairs import EncodedPairs, Heldout, encode_pairs, heldout
from .report import test_report
from .task import TranslateTask
from .vocab import SeqVocab

__all__ = ["MONITORS", "RECIPE", "TranslateData", "TranslateRecipe", "build_model", "train"]

MONITORS = ("wer", "per", "loss")  # validation metrics of TranslateTask.evaluate


def build_model(cfg: TranslateConfig, src_vocab: int, tgt_vocab: int) -> Seq2Seq:
    """The ``Seq2Seq`` that ``cfg`` describes."""
    return Seq2Seq(
        src_vocab, tgt_vocab, cfg.embed, cfg.hidden, cfg.layers, cfg.cell, cfg.decoder_cell,
        cfg.bidirectional_encoder, cfg.attention, cfg.input_feeding, cfg.dropout,
        cfg.tie_embeddings,
    )  # fmt: skip


def load_pairs(cfg: TranslateConfig) -> Pairs:
    """The pairs ``cfg.data`` names (the bundled CMU dictionary when None)."""
    if cfg.data is None:
        return load_cmudict(stress=cfg.stress == "keep")
    return read_pairs(cfg.data, cfg.source_column, cfg.target_column, cfg.encoding)


@dataclass
class TranslateData:
    """The pairs as the model sees them: vocabularies and the three splits."""

    src_vocab: SeqVocab
    tgt_vocab: SeqVocab
    train: EncodedPairs
    val: Heldout
    test: Heldout
    batches: ShuffledBatches  # this rank's rows of each global batch

    def sizes(self) -> dict[str, int]:
        """Pairs of the training split, distinct sources of the held-out ones."""
        return {"train": len(self.train), "validation": len(self.val), "test": len(self.test)}


class TranslateRecipe(Recipe):
    """Sequence to sequence: pairs in, a tested encoder-decoder out."""

    name = "translate"

    def check(self, cfg: TranslateConfig, tcfg: TrainConfig) -> None:
        if tcfg.monitor not in MONITORS:
            raise RnnkitError(
                f"--monitor must be one of {', '.join(MONITORS)} (lower is better); "
                f"got {tcfg.monitor}"
            )

    def load(self, cfg: TranslateConfig) -> tuple[Pairs, str]:
        pairs = load_pairs(cfg)
        digest = hashlib.sha256(json.dumps(pairs).encode("utf-8")).hexdigest()
        return pairs, digest

    def build_data(self, cfg: TranslateConfig, tcfg, raw: Pairs, env, resume) -> TranslateData:
        parts = split_by_source(raw, cfg.val_split, cfg.test_split, cfg.split_seed)
        for name, part in zip(("training", "validation", "test"), parts):
            if len(part) == 0:
                raise RnnkitError(
                    f"{len(raw)} pairs are too few for --val-split {cfg.val_split} and "
                    f"--test-split {cfg.test_split}: the {name} split would be empty"
                )
        train_pairs, val_pairs, test_pairs = ([raw[i] for i in p] for p in parts)
        if resume is not None:
            src_vocab = SeqVocab.from_dict(resume["source_vocab"])
            tgt_vocab = SeqVocab.from_dict(resume["target_vocab"])
        else:
            src_vocab = SeqVocab.build((s for s, _ in train_pairs), cfg.source_level,
                                       cfg.vocab_size)  # fmt: skip
            tgt_vocab = SeqVocab.build((t for _, t in train_pairs), cfg.target_level,
                                       cfg.vocab_size)  # fmt: skip
        train_set = encode_pairs(train_pairs, src_vocab, tgt_vocab)
        batches = ShuffledBatches(train_set.src_lengths, cfg.batch_size, tcfg.seed)
        batches.shard(env.rank, env.world_size)
        val = heldout(val_pairs, src_vocab, tgt_vocab)
        test = heldout(test_pairs, src_vocab, tgt_vocab)
        return TranslateData(src_vocab, tgt_vocab, train_set, val, test, batches)

    def build_model(self, cfg: TranslateConfig, data: TranslateData) -> Seq2Seq:
        return build_model(cfg, len(data.src_vocab), len(data.tgt_vocab))

    def task(self, cfg: TranslateConfig, tcfg, data: TranslateData, env) -> TranslateTask:
        vocabs = (data.src_vocab, data.tgt_vocab)
        return TranslateTask(data.train, data.batches, data.val, vocabs, env.device,
                             cfg.teacher_forcing, cfg.label_smoothing, cfg.max_length,
                             env.world_size)  # fmt: skip

    def extra(self, data: TranslateData) -> dict[str, Any]:
        return {"source_vocab": data.src_vocab.to_dict(), "target_vocab": data.tgt_vocab.to_dict()}

    def describe(self, cfg: TranslateConfig, data: TranslateData, model, env) -> str:
        sizes = data.sizes()
        where = "the CMU Pronouncing Dictionary" if cfg.data is None else cfg.data
        return (
            f"translate: {where}: {sizes['train']:,} training pairs, {sizes['validation']:,} "
            f"validation and {sizes['test']:,} test sources; vocabularies "
            f"{len(data.src_vocab):,} ({cfg.source_level}) -> {len(data.tgt_vocab):,} "
            f"({cfg.target_level}); {sum(p.numel() for p in model.parameters()):,} parameters; "
            f"{env.world_size} process(es) x {torch.get_num_threads()} threads"
        )

    def report(self, run: Run) -> dict[str, Any]:
        return test_report(run)


RECIPE = TranslateRecipe()


def train(
    cfg: TranslateConfig, tcfg: TrainConfig, log: Callable[[str], None] = print
) -> dict[str, Any]:
    """Train an encoder-decoder as configured; returns the test report (the last validation
    metrics on ranks > 0)."""
    return run_recipe(RECIPE, cfg, tcfg, log)
