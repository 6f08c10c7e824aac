"""``train(cfg, train_cfg)`` and ``sample(...)``: what ``rnnkit textgen train|sample`` do.

Every check of the user's input (data file, sizes, output directory, the checkpoint to resume)
runs before anything is written, and fails with ``RnnkitError``: nothing is overwritten.
"""

from __future__ import annotations

import hashlib
import itertools
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch

from ...data import load_shakespeare
from ...errors import CheckpointError, RnnkitError
from ...train import LAST, TrainConfig, Trainer
from ...train.recipe import (
    check_same_run,
    check_train_options,
    load_task_checkpoint,
    prepare_out,
    run_config,
    setup,
)
from .config import TextgenConfig
from .data import StreamBatches, read_corpus, split_blocks
from .model import LanguageModel
from .sampling import generate
from .task import TextgenTask
from .vocab import Vocab

__all__ = ["load_model", "sample", "train"]


def _check_sizes(cfg: TextgenConfig, tcfg: TrainConfig) -> None:
    for name in ("layers", "hidden", "embed", "seq_len", "batch_size", "val_blocks"):
        if getattr(cfg, name) < 1:
            flag = "--" + name.replace("_", "-")
            raise RnnkitError(f"{flag} must be >= 1; got {getattr(cfg, name)}")
    for name in ("dropout", "reset_prob"):
        if not 0 <= getattr(cfg, name) < 1:
            flag = "--" + name.replace("_", "-")
            raise RnnkitError(f"{flag} must be in [0, 1); got {getattr(cfg, name)}")
    check_train_options(tcfg)


def train(cfg: TextgenConfig, tcfg: TrainConfig, log: Callable[[str], None] = print) -> dict:
    """Train a language model as configured; returns the final validation metrics."""
    _check_sizes(cfg, tcfg)
    env = setup(tcfg)
    say = log if env.is_main else (lambda _: None)
    resume = prepare_out(tcfg)
    text = load_shakespeare() if cfg.data is None else read_corpus(cfg.data, cfg.encoding)
    config = run_config("textgen", cfg, tcfg, hashlib.sha256(text.encode("utf-8")).hexdigest())
    if resume is not None:
        check_same_run(resume["config"], config, Path(tcfg.out) / LAST)
        vocab = Vocab.from_dict(resume["vocab"])
    else:
        vocab = Vocab.build(text, cfg.level, cfg.vocab_size)
    ids = torch.from_numpy(vocab.encode(text))
    train_ids, val_ids = split_blocks(ids, cfg.val_fraction, cfg.val_blocks)
    batches = StreamBatches(train_ids, cfg.batch_size, cfg.seq_len).shard(env.rank, env.world_size)
    if len(val_ids) < 2:
        raise RnnkitError(f"the held-out text has {len(val_ids)} tokens; raise --val-fraction")
    torch.manual_seed(tcfg.seed)
    model = LanguageModel(len(vocab), cfg.embed, cfg.hidden, cfg.layers, cfg.cell, cfg.dropout)
    task = TextgenTask(
        batches, val_ids, cfg.level, env.device, cfg.eval_tokens, cfg.reset_prob, tcfg.seed
    )
    say(
        f"textgen: {len(ids):,} {cfg.level} tokens ({len(train_ids):,} train, {len(val_ids):,} "
        f"validation), vocabulary {len(vocab)}, {sum(p.numel() for p in model.parameters()):,} "
        f"parameters, {env.world_size} process(es) x {torch.get_num_threads()} threads"
    )
    trainer = Trainer(model, task, tcfg, env, config, {"vocab": vocab.to_dict()}, log=say)
    start = time.perf_counter()
    metrics = trainer.fit(resume=resume)
    say(f"done in {time.perf_counter() - start:.0f} s; checkpoints in {tcfg.out}")
    return metrics


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
