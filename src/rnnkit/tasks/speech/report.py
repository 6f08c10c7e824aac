"""The test report of a recognizer on held-out recordings, and its pictures.

``evaluate_recordings`` measures a model two ways on the same recordings: connected (the
recordings joined into utterances of 1..``join``, ``compose.group_utterances``: SER and WER)
and isolated (each recording alone: SER, WER and accuracy, the share transcribed exactly; with
one-symbol transcripts, the confusion matrix of symbols, a last column "other" for anything
but one symbol). ``plot_posteriors`` draws one utterance's features with the frame-wise CTC
posteriors beneath, on one time axis.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from torch import nn

from ...atomic import atomic_write
from ..classify.metrics import format_confusion, plot_confusion
from .compose import group_utterances, join_audio
from .data import Alphabet, Recording
from .features import Features
from .metrics import confusion, isolated_accuracy
from .task import rates, recognize

__all__ = ["evaluate_recordings", "plot_posteriors", "summary"]


def _isolated(alphabet, recordings, index, silence, seed) -> list[tuple[np.ndarray, tuple]]:
    rng = np.random.default_rng([seed, 31])
    return [join_audio([recordings[i]], rng, silence, alphabet.space) for i in index]


def evaluate_recordings(
    model: nn.Module,
    features: Features,
    alphabet: Alphabet,
    recordings: Sequence[Recording],
    index: Sequence[int],
    join: int,
    silence: tuple[int, int],
    seed: int,
    beam: int = 1,
) -> dict[str, Any]:
    """The report of ``model`` on ``recordings[index]`` (see the module docstring)."""
    report: dict[str, Any] = {"recordings": len(index), "beam_size": beam}
    iso = _isolated(alphabet, recordings, index, silence, seed)
    refs = [s for _, s in iso]
    got = recognize(model, features, [a for a, _ in iso], beam)
    report["isolated"] = {
        **rates(alphabet, refs, got.hyps),
        "accuracy": isolated_accuracy(refs, got.hyps),
    }
    if all(len(r) == 1 for r in refs) and alphabet.space is None:
        cm = confusion(refs, got.hyps, len(alphabet.symbols))
        report["isolated"]["confusion_matrix"] = cm.tolist()
    if join > 1:
        utts = group_utterances(recordings, index, join, silence, seed, alphabet.space)
        refs = [u.symbols for u in utts]
        got = recognize(model, features, [u.audio for u in utts], beam)
        report["connected"] = {
            "utterances": len(utts),
            "words": sum(len(alphabet.words(r)) for r in refs),
            **rates(alphabet, refs, got.hyps),
            "examples": [
                {"reference": alphabet.decode(r), "hypothesis": alphabet.decode(h)}
                for r, h in list(zip(refs, got.hyps))[:5]
            ],
        }
    return report


def summary(report: dict[str, Any], alphabet: Alphabet) -> str:
    """The report as a few printed lines."""
    iso = report["isolated"]
    lines = [
        f"test ({report['recordings']} recordings, beam {report['beam_size']}):",
        f"  isolated   accuracy {iso['accuracy']:.4f}  WER {iso['wer']:.4f}  SER {iso['ser']:.4f}",
    ]
    if "connected" in report:
        con = report["connected"]
        lines.append(
            f"  connected  WER {con['wer']:.4f}  SER {con['ser']:.4f}  "
            f"({con['utterances']} utterances, {con['words']} words)"
        )
    if "confusion_matrix" in iso:
        names = [*alphabet.symbols, "other"]
        lines.append(format_confusion(np.array(iso["confusion_matrix"]), names))
    return "\n".join(lines)


def plot_confusion_png(report: dict[str, Any], alphabet: Alphabet, path: Path) -> bool:
    """confusion.png of the isolated test (False without one-symbol transcripts)."""
    iso = report["isolated"]
    if "confusion_matrix" not in iso:
        return False
    title = f"isolated test accuracy {iso['accuracy']:.4f}"
    names = [*alphabet.symbols, "other"]
    return plot_confusion(np.array(iso["confusion_matrix"]), names, path, title)


def plot_posteriors(
    feats: np.ndarray,
    log_probs: np.ndarray,
    alphabet: Alphabet,
    hop_s: float,
    path: str | Path,
    title: str = "",
) -> bool:
    """Features (T, F) above frame-wise posteriors exp(log_probs) (T', C), one time axis in
    seconds (T' = T / subsampling); False when matplotlib is missing."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return False
    seconds = feats.shape[0] * hop_s
    fig, (top, bottom) = plt.subplots(2, 1, figsize=(10, 6), sharex=True, dpi=100)
    top.imshow(feats.T, aspect="auto", origin="lower", extent=(0, seconds, 0, feats.shape[1]))
    top.set_ylabel("feature")
    top.set_title(title)
    t = (np.arange(log_probs.shape[0]) + 0.5) * seconds / max(1, log_probs.shape[0])
    post = np.exp(log_probs)
    bottom.plot(t, post[:, 0], color="0.7", lw=1, label="blank")
    for k, symbol in enumerate(alphabet.symbols, start=1):
        bottom.plot(t, post[:, k], lw=1.5, label=repr(symbol) if symbol == " " else symbol)
    bottom.set_ylim(0, 1.02)
    bottom.set_xlabel("time (s)")
    bottom.set_ylabel("CTC posterior")
    bottom.legend(ncol=min(12, len(alphabet)), fontsize="small", loc="upper right")
    fig.tight_layout()
    atomic_write(path, lambda f: fig.savefig(f, format="png"), binary=True)
    plt.close(fig)
    return True
