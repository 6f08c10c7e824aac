"""Sequence labelling: named entities, parts of speech and word segmentation with a BiLSTM-CRF.

``train(TagConfig(...), TrainConfig(...))`` and ``load_tagger(path).tag(texts)`` are what
``rnnkit tag train`` and ``rnnkit tag predict`` run; the pieces (file formats, tag schemes,
the bundled People's Daily tasks, encoded batches, the model, metrics, the training ``Task``)
are importable on their own. The CRF itself is ``rnnkit.layers.CRF``.
"""

from .config import TASKS, TRAIN_DEFAULTS, TagConfig, check_config, resolve_defaults
from .corpus import ENTITY_TYPES, bmes_tags, peoples_daily, word_entities
from .data import EncodedTags, TagBatch, Vocabularies, encode, split_indices
from .formats import FORMATS, Sentence, read_tagged
from .metrics import (
    entity_scores,
    format_report,
    segmentation_scores,
    tag_confusion,
    token_accuracy,
)
from .model import CharCNN, CharLSTM, SequenceTagger
from .predict import Tagger, evaluate, load_tagger, predict
from .run import METRICS_FILE, RECIPE, assemble_splits, build_model, load_parts, train
from .schemes import entity_spans, first_invalid, spans_to_tags, to_bio, to_bioes, word_spans
from .task import TagTask, predict_ids, rare_word_probabilities, score_tags

__all__ = [
    "ENTITY_TYPES",
    "FORMATS",
    "METRICS_FILE",
    "RECIPE",
    "TASKS",
    "TRAIN_DEFAULTS",
    "CharCNN",
    "CharLSTM",
    "EncodedTags",
    "Sentence",
    "SequenceTagger",
    "TagBatch",
    "TagConfig",
    "TagTask",
    "Tagger",
    "Vocabularies",
    "assemble_splits",
    "bmes_tags",
    "build_model",
    "check_config",
    "encode",
    "entity_scores",
    "entity_spans",
    "evaluate",
    "first_invalid",
    "format_report",
    "load_parts",
    "load_tagger",
    "peoples_daily",
    "predict",
    "predict_ids",
    "rare_word_probabilities",
    "read_tagged",
    "resolve_defaults",
    "score_tags",
    "segmentation_scores",
    "spans_to_tags",
    "split_indices",
    "tag_confusion",
    "to_bio",
    "to_bioes",
    "token_accuracy",
    "train",
    "word_entities",
    "word_spans",
]
