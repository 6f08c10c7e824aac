"""``train(cfg, train_cfg)``: what ``rnnkit speech train`` does, from WAV files to the test report.

``SpeechRecipe`` is the recipe (``train.recipe.run_recipe`` runs it). Every check of the user's
input (options, the directory, each WAV file, the transcripts, the split, the output
directory) runs before anything is written and fails with ``RnnkitError``: nothing is
overwritten. After training, the best checkpoint (lowest validation ``--monitor``) is tested
once on the held-out recordings, isolated and connected (``report.evaluate_recordings``),
printed and written to ``test_metrics.json``, with ``confusion.png`` and ``posteriors.png``
(the first test utterance) in the run folder.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ...errors import RnnkitError
from ...train import BEST, LAST, TrainConfig, load_checkpoint
from ...train.distributed import rank_rows
from ...train.recipe import Recipe, Run, run_recipe
from ..classify.metrics import write_json
from .compose import StepUtterances, Utterance, group_utterances
from .config import SpeechConfig
from .data import FSDD_URL, Alphabet, Recording, digest, read_recordings, split_recordings
from .features import Features
from .model import SpeechModel
from .report import evaluate_recordings, plot_confusion_png, plot_posteriors, summary
from .task import SpeechTask, recognize

__all__ = ["METRICS_FILE", "RECIPE", "SpeechData", "SpeechRecipe", "build_model", "train"]

METRICS_FILE = "test_metrics.json"
MONITORS = ("loss", "wer", "ser")


def make_features(cfg: SpeechConfig) -> Features:
    """The feature extractor ``cfg`` describes."""
    return Features(cfg.sample_rate, cfg.features, cfg.n_mels, cfg.n_mfcc, cfg.win_ms, cfg.hop_ms)


def build_model(cfg: SpeechConfig, n_features: int) -> SpeechModel:
    """The ``SpeechModel`` that ``cfg`` describes (statistics not yet set)."""
    augment = (cfg.masks, cfg.freq_width, cfg.time_width) if cfg.spec_augment else (0, 0, 0)
    return SpeechModel(
        n_features, len(Alphabet(cfg.alphabet)), cfg.cell, cfg.hidden, cfg.layers,
        cfg.bidirectional, cfg.subsample, cfg.dropout, cfg.normalize, augment,
        cfg.initial_blank_bias(),
    )  # fmt: skip


def statistics(features: Features, audio: list[np.ndarray]) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-feature mean and standard deviation (F,) over every frame of ``audio`` (the
    training recordings joined as the model hears them: silences count too)."""
    total, square, frames = 0.0, 0.0, 0
    for start in range(0, len(audio), 256):
        x, lengths = features.batch(audio[start : start + 256])
        total = total + x.double().sum((0, 1))
        square = square + x.double().pow(2).sum((0, 1))
        frames += int(lengths.sum())
    mean = total / frames
    return mean.float(), (square / frames - mean**2).clamp(min=0).sqrt().float()


@dataclass
class SpeechData:
    """The recordings as the model sees them: alphabet, splits, training draws, validation."""

    alphabet: Alphabet
    features: Features
    recordings: list[Recording]
    train: np.ndarray  # indices of each split
    val: np.ndarray
    test: np.ndarray
    sampler: StepUtterances
    val_utterances: list[Utterance]
    stats: tuple[torch.Tensor, torch.Tensor]  # training features' mean and deviation (F,)
    rows: slice  # this rank's rows of each global batch

    def sizes(self) -> dict[str, int]:
        """Recordings per split."""
        return {"train": len(self.train), "validation": len(self.val), "test": len(self.test)}


class SpeechRecipe(Recipe):
    """CTC speech recognition: WAV files and transcripts in, a tested recognizer out."""

    name = "speech"

    def check(self, cfg: SpeechConfig, tcfg: TrainConfig) -> None:
        if cfg.data is None:
            raise RnnkitError(
                "--data DIR is required: a directory of WAV files, e.g. the Free Spoken Digit "
                f"Dataset (git clone {FSDD_URL}; --data free-spoken-digit-dataset/recordings)"
            )
        if tcfg.monitor not in MONITORS:
            raise RnnkitError(
                f"--monitor must be one of {', '.join(MONITORS)} (lower is better); "
                f"got {tcfg.monitor}"
            )
        Alphabet(cfg.alphabet)

    def load(self, cfg: SpeechConfig):
        recordings = read_recordings(
            cfg.data, cfg.transcripts, cfg.sample_rate, Alphabet(cfg.alphabet)
        )
        return recordings, digest(recordings)

    def build_data(self, cfg: SpeechConfig, tcfg, raw, env, resume) -> SpeechData:
        alphabet, features = Alphabet(cfg.alphabet), make_features(cfg)
        train_, val, test = split_recordings(
            raw, cfg.test_speaker, cfg.test_split, cfg.val_split, tcfg.seed
        )
        silence = cfg.silence()
        sampler = StepUtterances(raw, train_, cfg.join, silence, tcfg.seed, alphabet.space)
        val_utts = group_utterances(raw, val, cfg.join, silence, tcfg.seed + 1, alphabet.space)
        joined = group_utterances(raw, train_, cfg.join, silence, tcfg.seed + 3, alphabet.space)
        stats = statistics(features, [u.audio for u in joined])
        rows = rank_rows(cfg.batch_size, env.rank, env.world_size)
        return SpeechData(
            alphabet, features, raw, train_, val, test, sampler, val_utts, stats, rows
        )

    def build_model(self, cfg: SpeechConfig, data: SpeechData) -> SpeechModel:
        model = build_model(cfg, data.features.dim)
        model.set_statistics(*data.stats)
        return model

    def task(self, cfg: SpeechConfig, tcfg, data: SpeechData, env) -> SpeechTask:
        mean_join = (1 + cfg.join) / 2  # an epoch: about as many recordings as training has
        epoch = max(1, round(len(data.train) / (cfg.batch_size * mean_join)))
        return SpeechTask(
            data.sampler, cfg.batch_size, data.rows, data.features, data.val_utterances,
            data.alphabet, epoch,
        )  # fmt: skip

    def describe(self, cfg: SpeechConfig, data: SpeechData, model, env) -> str:
        sizes = data.sizes()
        speakers = len({r.speaker for r in data.recordings})
        return (
            f"speech: {len(data.recordings):,} recordings of {speakers} speaker(s) "
            f"({sizes['train']:,} train, {sizes['validation']:,} validation, "
            f"{sizes['test']:,} test), utterances of 1-{cfg.join}, {len(data.alphabet) - 1} "
            f"symbols + blank, {cfg.features} x {data.features.dim}, "
            f"{sum(p.numel() for p in model.parameters()):,} parameters, "
            f"{env.world_size} process(es) x {torch.get_num_threads()} threads"
        )

    def report(self, run: Run) -> dict[str, Any]:
        data: SpeechData = run.data
        cfg: SpeechConfig = run.cfg
        name = BEST if (run.out / BEST).exists() else LAST
        best = load_checkpoint(run.out / name)
        run.model.load_state_dict(best["model"])
        report = evaluate_recordings(
            run.model, data.features, data.alphabet, data.recordings, data.test, cfg.join,
            cfg.silence(), run.tcfg.seed + 2,
        )  # fmt: skip
        report.update(
            checkpoint=name, step=best["step"], recordings_per_split=data.sizes(),
            validation={k: float(v) for k, v in best["last_eval"].items()},
            train_seconds=round(run.seconds, 1),
        )  # fmt: skip
        write_json(run.out / METRICS_FILE, report)
        if run.tcfg.plot:
            plot_confusion_png(report, data.alphabet, run.out / "confusion.png")
            _plot_first(run.model, data, cfg, run.out / "posteriors.png")
        run.log(summary(report, data.alphabet))
        run.log(f"test report in {run.out / METRICS_FILE}")
        return report


def _plot_first(model, data: SpeechData, cfg: SpeechConfig, path: Path) -> None:
    """posteriors.png of the first connected test utterance."""
    utt = group_utterances(
        data.recordings, data.test[:50], cfg.join, cfg.silence(), 0, data.alphabet.space
    )[0]
    feats, _ = data.features.batch([utt.audio])
    got = recognize(model, data.features, [utt.audio])
    text = data.alphabet.decode(utt.symbols)
    title = f"reference {text!r}, greedy {data.alphabet.decode(got.hyps[0])!r}"
    plot_posteriors(
        feats[0].numpy(), got.log_probs[0], data.alphabet, cfg.hop_ms / 1000, path, title
    )


RECIPE = SpeechRecipe()


def train(
    cfg: SpeechConfig, tcfg: TrainConfig, log: Callable[[str], None] = print
) -> dict[str, Any]:
    """Train a CTC recognizer as configured; returns the test report (the last validation
    metrics on ranks > 0)."""
    return run_recipe(RECIPE, cfg, tcfg, log)
