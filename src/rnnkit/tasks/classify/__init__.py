"""Text classification: a recurrent classifier over token ids, trained, tested and used.

``train(ClassifyConfig(...), TrainConfig(...))`` and ``load_classifier(path).predict(texts)``
are what ``rnnkit classify train`` and ``rnnkit classify predict`` run; the pieces (file
reading, stratified split, encoded batches, model and pooling, metrics, the training ``Task``)
are importable on their own. The text pipeline itself (tokenizer, vocabulary, padding) is
``rnnkit.data.text``; ``tokens`` cuts texts into words or characters (``--level``).
"""

from .batches import EncodedTexts, ShuffledBatches, encode_texts
from .config import POOLINGS, TRAIN_DEFAULTS, ClassifyConfig, resolve_defaults
from .data import clean_text, read_examples, split_indices
from .metrics import (
    accuracy,
    confusion_matrix,
    f1_per_class,
    format_confusion,
    macro_f1,
    majority_baseline,
    plot_confusion,
    write_json,
)
from .model import (
    TextClassifier,
    class_probabilities,
    classification_loss,
    pool_last,
    pool_max,
    pool_mean,
    valid_steps,
)
from .predict import Classifier, load_classifier, predict, read_texts
from .run import METRICS_FILE, build_model, build_vocab, split_report, train
from .task import ClassifyTask, predict_split
from .tokens import LEVELS, encode_text, level_vocab

__all__ = [
    "LEVELS",
    "METRICS_FILE",
    "POOLINGS",
    "TRAIN_DEFAULTS",
    "Classifier",
    "ClassifyConfig",
    "ClassifyTask",
    "EncodedTexts",
    "ShuffledBatches",
    "TextClassifier",
    "accuracy",
    "build_model",
    "build_vocab",
    "class_probabilities",
    "classification_loss",
    "clean_text",
    "confusion_matrix",
    "encode_text",
    "encode_texts",
    "f1_per_class",
    "format_confusion",
    "level_vocab",
    "load_classifier",
    "macro_f1",
    "majority_baseline",
    "plot_confusion",
    "pool_last",
    "pool_max",
    "pool_mean",
    "predict",
    "predict_split",
    "read_examples",
    "read_texts",
    "resolve_defaults",
    "split_indices",
    "split_report",
    "train",
    "valid_steps",
    "write_json",
]
