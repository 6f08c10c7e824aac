"""``train(cfg, train_cfg)`` and ``sample(...)``: what ``rnnkit textgen train|sample`` do.

``TextgenRecipe`` is the recipe (``train.recipe.run_recipe`` runs it): every check of the
user's input (data file, sizes, output directory, the checkpoint to resume) runs before
anything is written, and fails with ``RnnkitError``: nothing is overwritten.
"""

from __future__ import annotations

import hashlib
import itertools
import os
import sys
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch

from ...data import load_shakespeare
from ...errors import CheckpointError, RnnkitError
from ...train import TrainConfig
from ...train.recipe import Recipe, load_task_checkpoint, run_recipe
from .config import TextgenConfig
from .data import StreamBatches, read_corpus, split_blocks
from .model import LanguageModel
from .sampling import generate
from .task import TextgenTask
from .vocab import Vocab

__all__ = ["RECIPE", "TextgenData", "TextgenRecipe", "load_model", "sample", "train"]


@dataclass
class TextgenData:
    """The text as the model sees it: vocabulary, the split ids, this rank's streams."""

    vocab: Vocab
    tokens: int  # tokens in the whole text
    train_ids: torch.Tensor  # (N_train,)
    val_ids: torch.Tensor  # (N_val,)
    batches: StreamBatches  # this rank's share of the training streams


class TextgenRecipe(Recipe):
    """Char- or word-level language modelling on one text file."""

    name = "textgen"

    def check(self, cfg: TextgenConfig, tcfg: TrainConfig) -> None:
        for name in ("layers", "hidden", "embed", "seq_len", "batch_size", "val_blocks"):
            if getattr(cfg, name) < 1:
                flag = "--" + name.replace("_", "-")
                raise RnnkitError(f"{flag} must be >= 1; got {getattr(cfg, name)}")
        for name in ("dropout", "reset_prob"):
            if not 0 <= getattr(cfg, name) < 1:
                flag = "--" + name.replace("_", "-")
                raise RnnkitError(f"{flag} must be in [0, 1); got {getattr(cfg, name)}")

    def load(self, cfg: TextgenConfig) -> tuple[str, str]:
        text = load_shakespeare() if cfg.data is None else read_corpus(cfg.data, cfg.encoding)
        return text, hashlib.sha256(text.encode("utf-8")).hexdigest()

    def build_data(self, cfg: TextgenConfig, tcfg, text: str, env, resume) -> TextgenData:
        if resume is not None:
            vocab = Vocab.from_dict(resume["vocab"])
        else:
            vocab = Vocab.build(text, cfg.level, cfg.vocab_size)
        ids = torch.from_numpy(vocab.encode(text))
        train_ids, val_ids = split_blocks(ids, cfg.val_fraction, cfg.val_blocks)
        batches = StreamBatches(train_ids, cfg.batch_size, cfg.seq_len)
        batches = batches.shard(env.rank, env.world_size)
        if len(val_ids) < 2:
            raise RnnkitError(f"the held-out text has {len(val_ids)} tokens; raise --val-fraction")
        return TextgenData(vocab, len(ids), train_ids, val_ids, batches)

    def build_model(self, cfg: TextgenConfig, data: TextgenData) -> LanguageModel:
        return LanguageModel(
            len(data.vocab), cfg.embed, cfg.hidden, cfg.layers, cfg.cell, cfg.dropout
        )

    def task(self, cfg: TextgenConfig, tcfg: TrainConfig, data: TextgenData, env) -> TextgenTask:
        return TextgenTask(
            data.batches,
            data.val_ids,
            cfg.level,
            env.device,
            cfg.eval_tokens,
            cfg.reset_prob,
            tcfg.seed,
        )

    def extra(self, data: TextgenData) -> dict[str, Any]:
        return {"vocab": data.vocab.to_dict()}

    def describe(self, cfg: TextgenConfig, data: TextgenData, model, env) -> str:
        return (
            f"textgen: {data.tokens:,} {cfg.level} tokens ({len(data.train_ids):,} train, "
            f"{len(data.val_ids):,} validation), vocabulary {len(data.vocab)}, "
            f"{sum(p.numel() for p in model.parameters()):,} parameters, "
            f"{env.world_size} process(es) x {torch.get_num_threads()} threads"
        )


RECIPE = TextgenRecipe()


def train(cfg: TextgenConfig, tcfg: TrainConfig, log: Callable[[str], None] = print) -> dict:
    """Train a language model as configured; returns the final validation metrics."""
    return run_recipe(RECIPE, cfg, tcfg, log)


def load_model(path: str | os.PathLike) -> tuple[LanguageModel, Vocab, dict[str, Any]]:
    """(model, vocab, checkpoint) from a run directory (best.pt, else last.pt) or a file."""
    ckpt, p = load_task_checkpoint(path, "textgen")
    try:
        cfg = TextgenConfig(**ckpt["config"]["textgen"])
        vocab = Vocab.from_dict(ckpt["vocab"])
        model = LanguageModel(len(vocab), cfg.embed, cfg.hidden, cfg.layers, cfg.cell, cfg.dropout)
        model.load_state_dict(ckpt["model"])
    except (KeyError, TypeError, RuntimeError) as exc:
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0][:160]
        raise CheckpointError(f"{p} is not a textgen checkpoint: {first}") from None
    return model, vocab, ckpt


def sample(
    checkpoint: str,
    prompt: str = "",
    length: int = 500,
    temperature: float = 0.8,
    top_k: int = 0,
    top_p: float = 1.0,
    seed: int | None = None,
    out=None,
) -> str:
    """Stream ``prompt`` + ``length`` sampled tokens to ``out``; returns the generated part."""
    out = out or sys.stdout
    model, vocab, _ = load_model(checkpoint)
    if vocab.level == "char" and vocab.unknown(prompt):
        raise RnnkitError(
            f"--prompt has characters this char-level model never saw: "
            f"{' '.join(repr(c) for c in vocab.unknown(prompt))}; it knows only the "
            f"{len(vocab)} characters of its training text"
        )
    pieces = generate(model, vocab, prompt, length, temperature, top_k, top_p, seed)
    first = next(pieces, "")  # argument errors surface before anything is printed
    out.write(prompt)
    text = []
    for piece in itertools.chain([first], pieces):
        text.append(piece)
        out.write(piece)
        out.flush()
    out.write("\n")
    return "".join(text)
