"""``textgen train``: outputs of a run, the classic Keras word-level language model example,
and a learning check."""

from __future__ import annotations

import json
import math

import pytest
import torch
from textgen_helpers import train_args

from rnnkit.cli import build_parser, main
from rnnkit.commands.flags import from_args
from rnnkit.tasks.textgen import LanguageModel, TextgenConfig, load_model
from rnnkit.train import BEST, LAST


def test_a_run_writes_checkpoints_metrics_and_vocab(trained):
    assert {p.name for p in trained.iterdir()} >= {LAST, BEST, "metrics.jsonl"}
    model, vocab, ckpt = load_model(trained)
    assert ckpt["step"] == 4 and vocab.level == "char" and len(vocab) == model.head.out_features
    evals = [r for r in map(json.loads, (trained / "metrics.jsonl").open()) if "val_loss" in r]
    assert [r["step"] for r in evals] == [2, 4]
    assert evals[-1]["val_bits_per_char"] == pytest.approx(evals[-1]["val_loss"] / math.log(2))


def test_resume_extends_a_finished_run(trained, corpus, tmp_path):
    import shutil

    out = tmp_path / "more"
    shutil.copytree(trained, out)
    assert main(train_args(corpus, out, "--steps", "6", "--eval-every", "2", "--resume")) == 0
    assert load_model(out)[2]["step"] == 6


def test_keras_word_level_language_model_example_is_expressible():
    argv = "textgen train --level word --cell rnn --layers 2 --hidden 1024 --embed 128"
    args = build_parser().parse_args([*argv.split(), "--vocab-size", "10000"])
    cfg = from_args(TextgenConfig, args)
    model = LanguageModel(cfg.vocab_size, cfg.embed, cfg.hidden, cfg.layers, cfg.cell)
    shapes = {name: tuple(p.shape) for name, p in model.named_parameters()}
    assert shapes["embed.weight"] == (10000, 128)
    assert shapes["rnn.weight_ih_l0"] == (1024, 128)
    assert shapes["rnn.weight_hh_l1"] == (1024, 1024)
    assert shapes["head.weight"] == (10000, 1024)
    assert model.rnn.mode == "RNN_TANH" and model.rnn.num_layers == 2


@pytest.mark.slow
def test_char_model_beats_the_unigram_baseline(corpus, tmp_path):
    text = corpus.read_text()
    counts = torch.tensor([text.count(c) for c in set(text)], dtype=torch.float64)
    p = counts / counts.sum()
    unigram = -(p * p.log()).sum().item()  # nats/char of the best context-free guess
    out = tmp_path / "learn"
    argv = train_args(corpus, out, "--steps", "200", "--eval-every", "200", "--lr", "0.01")
    argv[argv.index("--hidden") + 1] = "64"
    argv[argv.index("--seq-len") + 1] = "32"
    argv[argv.index("--batch-size") + 1] = "16"
    argv[argv.index("--eval-tokens") + 1] = "0"
    assert main(argv) == 0
    val = load_model(out)[2]["last_eval"]["loss"]
    assert val < unigram - 0.5, f"validation {val:.3f} nats/char vs unigram {unigram:.3f}"
