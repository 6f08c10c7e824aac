"""What ``rnnkit speech predict`` and ``rnnkit speech evaluate`` do, callable from Python.

``predict`` prints ``path<TAB>transcript`` per file; with ``stream``, it feeds each file to the
model in chunks of ``chunk_ms`` milliseconds, prints ``path<TAB>@seconds<TAB>transcript`` each
time the transcript grows, then the final line as without ``stream``, and the real-time factor
(recognition time / audio time) on stderr. ``evaluate`` tests a checkpoint on the recordings
of a directory, all of them or the test split of the run that trained it.
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Sequence
from typing import Any, TextIO

from ...errors import RnnkitError
from ..classify.metrics import write_json
from .data import Alphabet, read_recordings, split_recordings
from .recognizer import Recognizer, load_recognizer
from .report import evaluate_recordings, summary

__all__ = ["evaluate", "predict", "stream_file"]


def _check(beam: int, chunk_ms: float) -> None:
    if beam < 1:
        raise RnnkitError(f"--beam-size must be >= 1; got {beam}")
    if chunk_ms <= 0:
        raise RnnkitError(f"--chunk-ms must be > 0; got {chunk_ms}")


def stream_file(
    rec: Recognizer, path: str, chunk_ms: float, beam: int, out: TextIO
) -> tuple[str, float, float]:
    """Stream one file through ``rec``, printing each longer transcript; returns (final
    transcript, seconds of audio, seconds spent recognizing)."""
    audio = rec.load_audio(path)
    rate = rec.config.sample_rate
    step = max(1, round(rate * chunk_ms / 1000))
    stream, shown, spent = rec.stream(beam), "", 0.0
    for start in range(0, len(audio), step):
        t0 = time.perf_counter()
        text = stream.feed(audio[start : start + step])
        spent += time.perf_counter() - t0
        if text != shown:
            out.write(f"{path}\t@{min(len(audio), start + step) / rate:.2f}s\t{text}\n")
            shown = text
    t0 = time.perf_counter()
    text = stream.finish()
    spent += time.perf_counter() - t0
    return text, len(audio) / rate, spent


def predict(
    checkpoint: str | os.PathLike,
    paths: Sequence[str],
    beam: int = 1,
    stream: bool = False,
    chunk_ms: float = 100.0,
    out: TextIO | None = None,
) -> list[str]:
    """Print the transcript of each WAV file (see the module docstring); returns them."""
    out = out or sys.stdout
    _check(beam, chunk_ms)
    if not paths:
        raise RnnkitError("nothing to transcribe: give WAV files as arguments")
    rec = load_recognizer(checkpoint)
    if not stream:
        texts = rec.transcribe(list(paths), beam)
        for path, text in zip(paths, texts):
            out.write(f"{path}\t{text}\n")
        out.flush()
        return texts
    rec.stream(beam)  # refuses a model that cannot stream, before any output
    texts, audio_s, spent = [], 0.0, 0.0
    for path in paths:
        text, seconds, took = stream_file(rec, path, chunk_ms, beam, out)
        out.write(f"{path}\t{text}\n")
        texts.append(text)
        audio_s, spent = audio_s + seconds, spent + took
    out.flush()
    print(
        f"streamed {audio_s:.2f} s of audio in {spent:.3f} s (real-time factor "
        f"{spent / max(audio_s, 1e-9):.4f}, chunks of {chunk_ms:g} ms)",
        file=sys.stderr,
    )
    return texts


def evaluate(
    checkpoint: str | os.PathLike,
    data: str,
    transcripts: str | None = None,
    subset: str = "test",
    beam: int = 1,
    join: int | None = None,
    report: str | None = None,
    log=print,
) -> dict[str, Any]:
    """Test a checkpoint on the recordings of ``data``: every one (``subset`` "all") or the
    test split of the run (its seed, --test-speaker, --test-split); isolated, and connected in
    utterances of 1..``join`` (default: the run's --join). Writes JSON to ``report`` if given."""
    _check(beam, 1.0)
    if subset not in ("test", "all"):
        raise RnnkitError(f"--subset must be test or all; got {subset}")
    rec = load_recognizer(checkpoint)
    cfg = rec.config
    join = cfg.join if join is None else join
    if join < 1:
        raise RnnkitError(f"--join must be >= 1; got {join}")
    recordings = read_recordings(data, transcripts, cfg.sample_rate, Alphabet(cfg.alphabet))
    index: Sequence[int] = range(len(recordings))
    seed = rec.checkpoint.get("config", {}).get("train", {}).get("seed", 0)
    if subset == "test":
        parts = split_recordings(recordings, cfg.test_speaker, cfg.test_split, cfg.val_split, seed)
        index = parts[2]
    result = evaluate_recordings(
        rec.model, rec.features, rec.alphabet, recordings, index, join, cfg.silence(),
        seed + 2, beam,
    )  # fmt: skip
    log(summary(result, rec.alphabet))
    if report:
        write_json(report, result)
    return result
