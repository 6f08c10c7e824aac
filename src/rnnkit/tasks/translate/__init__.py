"""Sequence to sequence: an attentive encoder-decoder trained, decoded, scored and used.

``train(TranslateConfig(...), TrainConfig(...))`` is ``rnnkit translate train`` (by default
grapheme-to-phoneme on the bundled CMU Pronouncing Dictionary); ``load_translator(path)
.translate(texts, beam_size=5)`` uses a trained model. The pieces are importable on their
own: pairs files and the split (data.py), vocabularies (vocab.py), the model (model.py,
attention.py), greedy and beam search (search.py), metrics (metrics.py), the encoder and
decoder-step graphs of its ONNX export (graphs.py; rnnkit.export_translate writes them).
"""

from .attention import Attention, Memory
from .config import ATTENTIONS, TRAIN_DEFAULTS, TranslateConfig
from .data import load_cmudict, read_pairs, split_by_source
from .decode import score_heldout, translate_texts
from .metrics import bleu_chrf, edit_distance, error_rates
from .model import Decoder, DecoderState, Encoder, Seq2Seq
from .predict import Translator, evaluate, load_translator, predict
from .report import METRICS_FILE, plot_attention
from .run import RECIPE, build_model, train
from .search import Hypothesis, beam_search, greedy
from .vocab import SeqVocab

__all__ = [
    "ATTENTIONS",
    "METRICS_FILE",
    "RECIPE",
    "TRAIN_DEFAULTS",
    "Attention",
    "Decoder",
    "DecoderState",
    "Encoder",
    "Hypothesis",
    "Memory",
    "Seq2Seq",
    "SeqVocab",
    "TranslateConfig",
    "Translator",
    "beam_search",
    "bleu_chrf",
    "build_model",
    "edit_distance",
    "error_rates",
    "evaluate",
    "greedy",
    "load_cmudict",
    "load_translator",
    "plot_attention",
    "predict",
    "read_pairs",
    "score_heldout",
    "split_by_source",
    "train",
    "translate_texts",
]
