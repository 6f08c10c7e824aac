"""``TranslateConfig`` (data, levels, model and decoding options of ``rnnkit translate train``)
and its training defaults.

The config checks its own values when made (``RnnkitError`` naming what was expected and what
came), so a bad flag fails before anything is read or written. ``TRAIN_DEFAULTS`` is the
generic ``TrainConfig`` with the budget chosen, by measurement, for the default command:
grapheme-to-phoneme on the bundled CMU dictionary within 30 minutes on 2 CPU cores.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from ...errors import RnnkitError
from ...layers.registry import LAYERS
from ...train import TrainConfig, opt
from .vocab import LEVELS

__all__ = ["ATTENTIONS", "STRESS", "TRAIN_DEFAULTS", "TranslateConfig"]

ATTENTIONS = ("bahdanau", "luong-dot", "luong-general", "none")
STRESS = ("keep", "drop")


@dataclass
class TranslateConfig:
    """What to learn from, how text becomes tokens, the model's shape and how it decodes."""

    data: str | None = opt(
        None, "pairs file (.tsv, .csv with a header row, or .jsonl); default: CMUdict G2P"
    )
    stress: str = opt("keep", "default data: the vowels' stress digits (AH0 AH1 AH2) kept, or "
                      "dropped: the 39 phonemes of published G2P results",
                      choices=STRESS)  # fmt: skip
    source_column: str = opt("source", "column (.tsv/.csv) or key (.jsonl) of the source text")
    target_column: str = opt("target", "column (.tsv/.csv) or key (.jsonl) of the target text")
    encoding: str = opt("utf-8", "text encoding of --data")
    source_level: str = opt("char", "source tokens: characters, words, or what spaces separate",
                            choices=LEVELS)  # fmt: skip
    target_level: str = opt("space", "target tokens (space: ARPAbet phonemes of CMUdict)",
                            choices=LEVELS)  # fmt: skip
    vocab_size: int = opt(30000, "most ids per side, 4 special ones included (caps word level)")
    cell: str = opt("lstm", "recurrent cell of the encoder", choices=tuple(LAYERS))
    decoder_cell: str | None = opt(
        None, "recurrent cell of the decoder; default: --cell", choices=tuple(LAYERS)
    )
    layers: int = opt(1, "stacked recurrent layers of the encoder and of the decoder")
    embed: int = opt(64, "embedding size of both sides")
    # 512 (with bfloat16 training steps, TRAIN_DEFAULTS): validation WER 30.6% at step 11000
    # where 384 had 32.4%; in bfloat16 a 512 step costs what a float32 384 step did
    hidden: int = opt(512, "decoder units; the encoder's outputs have this width too "
                      "(hidden / 2 per direction when bidirectional)")  # fmt: skip
    bidirectional_encoder: bool = opt(True, "read the source in both directions")
    attention: str = opt("luong-general", "how the decoder looks at the source",
                         choices=ATTENTIONS)  # fmt: skip
    # off: training then runs the decoder over the whole target in one call (0.077 vs 0.132 s
    # a step at H=256, 1 thread); 26000 steps at H=256 without it beat 11000 with it (test WER
    # 32.4% vs 33.7%, beam 5)
    input_feeding: bool = opt(False, "luong attention: feed the last attentional vector back in")
    # 0: at H=384 and 17000 steps, dropout 0.2 trailed no dropout all the way (val WER 32.8% vs
    # 30.3% at step 14000): a run this short underfits rather than overfits
    dropout: float = opt(0.0, "dropout on embeddings, between layers, before the output layer")
    teacher_forcing: float = opt(
        1.0, "training: share of decoder steps fed the true previous token (else its own guess)"
    )
    label_smoothing: float = opt(0.1, "training: label smoothing of the cross-entropy")
    tie_embeddings: bool = opt(False, "output layer shares the target embedding (--embed must "
                               "equal --hidden)")  # fmt: skip
    batch_size: int = opt(128, "pairs per step, global over all processes")
    beam_size: int = opt(5, "beam of the test report (1 = greedy)")
    length_penalty: float = opt(1.0, "beam: rank by log-probability / length^this (0 = none)")
    max_length: int | None = opt(
        None, "most target tokens a decoding writes; default: 2 x source tokens + 10"
    )
    val_split: float = opt(0.05, "share of the distinct sources held out for validation")
    test_split: float = opt(0.05, "share of the distinct sources held out for the final test")
    split_seed: int = opt(0, "seed of the split by source (the same test set across --seed)")

    def __post_init__(self) -> None:
        for name in ("layers", "embed", "hidden", "batch_size", "beam_size"):
            _at_least(name, getattr(self, name), 1)
        _at_least("vocab_size", self.vocab_size, 5)
        if self.max_length is not None:
            _at_least("max_length", self.max_length, 1)
        for name in ("dropout", "label_smoothing"):
            if not 0 <= getattr(self, name) < 1:
                raise RnnkitError(f"{_flag(name)} must be in [0, 1); got {getattr(self, name)}")
        if not 0 <= self.teacher_forcing <= 1:
            raise RnnkitError(f"--teacher-forcing must be in [0, 1]; got {self.teacher_forcing}")
        for name in ("val_split", "test_split"):
            if not 0 < getattr(self, name) < 1:
                raise RnnkitError(f"{_flag(name)} must be in (0, 1); got {getattr(self, name)}")
        if self.val_split + self.test_split >= 1:
            raise RnnkitError(
                f"--val-split + --test-split must be < 1; got {self.val_split + self.test_split}"
            )
        if self.bidirectional_encoder and self.hidden % 2:
            raise RnnkitError(
                f"--hidden must be even with --bidirectional-encoder (hidden / 2 per "
                f"direction); got {self.hidden}"
            )
        if self.tie_embeddings and self.embed != self.hidden:
            raise RnnkitError(
                f"--tie-embeddings needs --embed equal to --hidden; got {self.embed} and "
                f"{self.hidden}"
            )
        if self.stress != "keep" and self.data is not None:
            raise RnnkitError(
                f"--stress applies to the bundled CMU dictionary, not to --data; got --stress "
                f"{self.stress} with --data {self.data}"
            )
        for name in ("cell", "decoder_cell", "attention", "source_level", "target_level",
                     "stress"):  # fmt: skip
            choices = {"attention": ATTENTIONS, "source_level": LEVELS, "target_level": LEVELS,
                       "stress": STRESS}  # fmt: skip
            allowed = choices.get(name, tuple(LAYERS))
            value = getattr(self, name)
            if not (value is None and name == "decoder_cell") and value not in allowed:
                raise RnnkitError(f"{_flag(name)} must be one of {', '.join(allowed)}; got {value}")

    @property
    def stressed_cmudict(self) -> bool:
        """Whether the targets are the bundled CMUdict's, stress kept: reports then score
        them without stress too, as published G2P results are."""
        return self.data is None and self.stress == "keep"


def _flag(name: str) -> str:
    return "--" + name.replace("_", "-")


def _at_least(name: str, value: int, low: int) -> None:
    if value < low:
        raise RnnkitError(f"{_flag(name)} must be >= {low}; got {value}")


TRAIN_DEFAULTS = dataclasses.replace(
    TrainConfig(),
    steps=17000,  # 17.9 epochs of the 121,667 CMUdict training pairs at 128 (README: time, WER)
    lr=3e-3,  # Adam; warm-up, then cosine decay to 3e-4
    warmup=200,
    eval_every=1000,
    save_every=1000,
    monitor="wer",  # keep the checkpoint of the best validation word error rate (greedy)
    # evaluate and keep the weights' moving average: the mean of the H=512 run's checkpoints
    # at steps 16000 and 17000 scored test WER 29.94% / PER 8.09% (beam 5) to their 30.07 / 8.16
    ema=0.999,
    # bfloat16 where the CPU has it native (Zen 4: AVX512-BF16; Xeons with AMX): at B=128 a
    # step of H=512 took 0.082 s on 2 idle Zen 4 cores in bfloat16, 0.136 in float32 (H=384:
    # 0.055 / 0.079); validation loss at step 300 equal to float32's (1.172 vs 1.170)
    precision="auto",
    threads=0,  # all cores: at B=128, H=384 a step took 0.079 s on 2 idle cores, 0.139 on one
    # (on a busy machine more threads than free cores can be several times slower: --threads 1)
    out=None,  # a fresh folder per run: runs/translate, runs/translate-2, ...
)
