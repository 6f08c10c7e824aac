"""``SpeechConfig`` (data, features, model and augmentation options of ``rnnkit speech train``)
and its training defaults.

The config checks itself when made (``RnnkitError`` naming the flag, what it expects and what
came), so a bad flag fails before any file is read.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from ...errors import RnnkitError
from ...layers.registry import LAYERS
from ...train import TrainConfig, opt
from .features import FEATURE_KINDS
from .model import NORMALIZATIONS, SUBSAMPLING

__all__ = ["TRAIN_DEFAULTS", "UNIDIRECTIONAL_BLANK_BIAS", "SpeechConfig"]

UNIDIRECTIONAL_BLANK_BIAS = 6.0  # see SpeechConfig.initial_blank_bias


def _flag(name: str) -> str:
    return "--" + name.replace("_", "-")


@dataclass
class SpeechConfig:
    """What to learn from, how audio becomes features, and the model's shape."""

    data: str | None = opt(
        None,
        "directory of mono WAV files (searched below it), e.g. the Free Spoken Digit "
        "Dataset's recordings/; default: none, it is required",
    )
    transcripts: str | None = opt(
        None,
        "CSV with columns path,text[,speaker] (paths relative to --data); default: the "
        "digit and speaker in FSDD names {digit}_{speaker}_{take}.wav",
    )
    alphabet: str = opt(
        "0123456789", "the output symbols, one character each; with a space in it, words are "
        "space-separated, otherwise every symbol is a word",
    )  # fmt: skip
    sample_rate: int = opt(8000, "sample rate of every file, Hz (others are refused; FSDD: 8000)")
    features: str = opt("logmel", "log-mel filterbank or MFCC frames", choices=FEATURE_KINDS)
    n_mels: int = opt(40, "mel filters (40: the usual for 8-16 kHz speech)")
    n_mfcc: int = opt(13, "MFCC coefficients kept (with --features mfcc)")
    win_ms: float = opt(25.0, "analysis window, milliseconds")
    hop_ms: float = opt(10.0, "frame shift, milliseconds")
    # global, not per utterance: an isolated digit normalized by its own statistics loses its
    # mean spectrum; FSDD test takes, 800 steps, 2026-12-07: isolated accuracy 95.7% -> 99.7%,
    # connected WER 1.3% -> 0.3%
    normalize: str = opt(
        "global",
        "feature normalization: the training set's per-feature mean and deviation (global; "
        "causal, which --stream needs), or per utterance",
        choices=NORMALIZATIONS,
    )
    join: int = opt(7, "utterances join 1..JOIN recordings of one speaker (1: isolated words)")
    silence_min_ms: float = opt(50.0, "shortest silence before, between and after recordings")
    silence_max_ms: float = opt(300.0, "longest such silence (drawn uniformly, seeded)")
    test_speaker: str | None = opt(
        None, "hold out this speaker's recordings as the test set (leave-one-speaker-out); "
        "default: FSDD takes 0-4, or --test-split for other names",
    )  # fmt: skip
    test_split: float = opt(0.1, "fraction held out for test when names give no split")
    val_split: float = opt(0.1, "fraction of the training recordings held out for validation")
    cell: str = opt("gru", "recurrent cell", choices=tuple(LAYERS))
    layers: int = opt(3, "stacked recurrent layers")
    hidden: int = opt(128, "hidden units per layer and direction")
    bidirectional: bool = opt(True, "read each utterance in both directions (no --stream)")
    subsample: int = opt(
        2, "keep every other frame after the first layer (2) or the first two (4)",
        choices=SUBSAMPLING,
    )  # fmt: skip
    dropout: float = opt(0.2, "dropout between layers and before the output layer")
    blank_bias: float | None = opt(
        None, "initial bias of the output layer's CTC blank logit; default: 6 for a "
        "unidirectional model, 0 for a bidirectional one",
    )  # fmt: skip
    spec_augment: bool = opt(True, "SpecAugment masking of features in training")
    masks: int = opt(2, "SpecAugment: frequency bands and time spans masked per utterance")
    freq_width: int = opt(6, "SpecAugment: widest frequency band masked, in features")
    time_width: int = opt(8, "SpecAugment: longest time span masked, in frames")
    batch_size: int = opt(32, "utterances per step, global over all processes")

    def __post_init__(self) -> None:
        for name in ("sample_rate", "n_mels", "n_mfcc", "join", "layers", "hidden", "batch_size"):
            if getattr(self, name) < 1:
                raise RnnkitError(f"{_flag(name)} must be >= 1; got {getattr(self, name)}")
        for name in ("masks", "freq_width", "time_width"):
            if getattr(self, name) < 0:
                raise RnnkitError(f"{_flag(name)} must be >= 0; got {getattr(self, name)}")
        if self.features == "mfcc" and self.n_mfcc > self.n_mels:
            raise RnnkitError(f"--n-mfcc must be <= --n-mels; got {self.n_mfcc} > {self.n_mels}")
        if not 0 < self.hop_ms <= self.win_ms:
            raise RnnkitError(f"--hop-ms must be in (0, --win-ms]; got {self.hop_ms}")
        if not 0 <= self.silence_min_ms <= self.silence_max_ms:
            raise RnnkitError(
                "--silence-min-ms must be >= 0 and <= --silence-max-ms; got "
                f"{self.silence_min_ms} and {self.silence_max_ms}"
            )
        for name in ("val_split", "test_split"):
            if not 0 < getattr(self, name) < 1:
                raise RnnkitError(f"{_flag(name)} must be in (0, 1); got {getattr(self, name)}")
        if not 0 <= self.dropout < 1:
            raise RnnkitError(f"--dropout must be in [0, 1); got {self.dropout}")
        k = self.subsample.bit_length() - 1
        if self.layers <= k:
            raise RnnkitError(
                f"--subsample {self.subsample} needs at least {k + 1} --layers; got {self.layers}"
            )

    def initial_blank_bias(self) -> float:
        """``blank_bias``, or its default: 6 for a unidirectional model. Started at 0, a
        unidirectional model on FSDD emits every symbol at the first frame, before it has heard
        anything, and stays at chance (CTC loss 2.3-2.7 per symbol for 400 steps, 2026-12-07);
        a blank the model already prefers everywhere moves the spikes into the words."""
        if self.blank_bias is not None:
            return self.blank_bias
        return 0.0 if self.bidirectional else UNIDIRECTIONAL_BLANK_BIAS

    def silence(self) -> tuple[int, int]:
        """(shortest, longest) silence in samples."""
        ms = (self.silence_min_ms, self.silence_max_ms)
        return tuple(round(self.sample_rate * m / 1000) for m in ms)  # type: ignore[return-value]


TRAIN_DEFAULTS = dataclasses.replace(
    TrainConfig(),
    # 800 steps: 323-331 s of CPU at --threads 1 (AMD EPYC Zen 4, 2026-12-07), so about 6 min
    # on an idle core, within 15 minutes on 2 cores (12.5 min wall on a machine at load 6-7)
    steps=800,
    lr=2e-3,  # Adam; warm-up then cosine decay to 2e-4
    warmup=100,
    eval_every=200,
    save_every=200,
    monitor="wer",  # keep the checkpoint of the best validation word error rate
    threads=0,  # all cores
    out=None,  # a fresh folder per run: runs/speech, runs/speech-2, ...
)
