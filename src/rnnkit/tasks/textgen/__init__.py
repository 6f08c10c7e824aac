"""Text generation: a char- or word-level recurrent language model, trained and sampled.

``train(TextgenConfig(...), TrainConfig(...))`` and ``sample(checkpoint, prompt, ...)`` are what
``rnnkit textgen train`` and ``rnnkit textgen sample`` run; the pieces (vocabulary, stream
batches, model, sampling, the training ``Task``) are importable on their own.
"""

from .config import TRAIN_DEFAULTS, TextgenConfig
from .data import StreamBatches, eval_chunks, read_corpus, split_blocks
from .model import CELLS, LanguageModel
from .run import load_model, sample, train
from .sampling import filter_logits, generate
from .task import TextgenTask
from .vocab import Vocab

__all__ = [
    "CELLS",
    "TRAIN_DEFAULTS",
    "LanguageModel",
    "StreamBatches",
    "TextgenConfig",
    "TextgenTask",
    "Vocab",
    "eval_chunks",
    "filter_logits",
    "generate",
    "load_model",
    "read_corpus",
    "sample",
    "split_blocks",
    "train",
]
