"""Speech recognition with CTC: spoken digit strings (or any small alphabet) from WAV files.

``train(SpeechConfig(data=...), TrainConfig(...))`` and ``load_recognizer(path).transcribe(
paths_or_arrays)`` are what ``rnnkit speech train`` and ``rnnkit speech predict`` run; the
pieces (WAV reading, log-mel/MFCC features, SpecAugment, connected utterances, the model, CTC
decoders, error rates) are importable on their own.
"""

from .audio import read_wav, write_wav
from .augment import spec_augment
from .compose import StepUtterances, Utterance, group_utterances, join_audio
from .config import TRAIN_DEFAULTS, SpeechConfig
from .data import Alphabet, Recording, read_recordings, split_recordings
from .decode import GreedyDecoder, PrefixBeamDecoder, decode, make_decoder
from .features import Features, dct_matrix, mel_filterbank, normalize_utterance
from .metrics import confusion, edit_distance, error_rate, isolated_accuracy
from .model import SpeechModel, ctc_loss, layer_groups
from .recognizer import Recognizer, Stream, load_recognizer
from .report import evaluate_recordings, plot_posteriors
from .run import METRICS_FILE, RECIPE, build_model, train
from .task import SpeechTask, recognize
from .use import evaluate, predict

__all__ = [
    "METRICS_FILE",
    "RECIPE",
    "TRAIN_DEFAULTS",
    "Alphabet",
    "Features",
    "GreedyDecoder",
    "PrefixBeamDecoder",
    "Recognizer",
    "Recording",
    "SpeechConfig",
    "SpeechModel",
    "SpeechTask",
    "StepUtterances",
    "Stream",
    "Utterance",
    "build_model",
    "confusion",
    "ctc_loss",
    "dct_matrix",
    "decode",
    "edit_distance",
    "error_rate",
    "evaluate",
    "evaluate_recordings",
    "group_utterances",
    "isolated_accuracy",
    "join_audio",
    "layer_groups",
    "load_recognizer",
    "make_decoder",
    "mel_filterbank",
    "normalize_utterance",
    "plot_posteriors",
    "predict",
    "read_recordings",
    "read_wav",
    "recognize",
    "spec_augment",
    "split_recordings",
    "train",
    "write_wav",
]
