"""Using a trained encoder-decoder: ``load_translator(path).translate(texts, beam_size=5)``,
``rnnkit translate predict`` and ``rnnkit translate evaluate``.

The checkpoint holds everything needed (config, weights, both vocabularies), so a run
directory (best.pt, else last.pt) or a .pt file is all it takes:

    >>> g2p = load_translator("runs/translate")
    >>> g2p.translate(["rnnkit", "phoneme"], beam_size=5)
    ['AA1 R EH2 N K IH0 T', 'F OW1 N IY2 M']
"""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

from ...errors import CheckpointError, RnnkitError
from ...train.recipe import load_task_checkpoint
from ..classify.predict import read_texts
from .config import TranslateConfig
from .data import FORMATS, read_pairs, split_by_source
from .decode import score_heldout, translate_texts
from .metrics import format_table, write_json
from .model import Seq2Seq
from .pairs import heldout
from .run import build_model, load_pairs
from .search import Hypothesis
from .vocab import SeqVocab

__all__ = ["Translator", "evaluate", "load_translator", "predict", "read_sources"]


@dataclass
class Translator:
    """A trained ``Seq2Seq`` with its vocabularies (eval mode, CPU)."""

    model: Seq2Seq
    src_vocab: SeqVocab
    tgt_vocab: SeqVocab
    config: TranslateConfig  # the run's options (levels, decoding defaults)
    checkpoint: dict[str, Any]  # the checkpoint it came from

    def translate(
        self, texts: Sequence[str], beam_size: int = 5, max_length: int | None = None
    ) -> list[str]:
        """The best output text of each of ``texts``."""
        return [best[0][0] for best in self.n_best(texts, beam_size, 1, max_length)]

    def n_best(
        self,
        texts: Sequence[str],
        beam_size: int = 5,
        n: int = 1,
        max_length: int | None = None,
    ) -> list[list[tuple[str, Hypothesis]]]:
        """The ``n`` best (text, ``Hypothesis``) of each of ``texts``, best first."""
        if isinstance(texts, str):
            raise TypeError("translate expects a list of texts; got one str (wrap it in a list)")
        _check_beam(beam_size, n, max_length)
        cleaned = [" ".join(t.split()) for t in texts]
        max_length = max_length if max_length is not None else self.config.max_length
        return translate_texts(self.model, self.src_vocab, self.tgt_vocab, cleaned, beam_size, n,
                               self.config.length_penalty, max_length)  # fmt: skip


def _check_beam(beam_size: int, n_best: int, max_length: int | None) -> None:
    if beam_size < 1:
        raise RnnkitError(f"--beam-size must be >= 1; got {beam_size}")
    if not 1 <= n_best <= beam_size:
        raise RnnkitError(f"--n-best must be in [1, --beam-size {beam_size}]; got {n_best}")
    if max_length is not None and max_length < 1:
        raise RnnkitError(f"--max-length must be >= 1; got {max_length}")


def load_translator(path: str | os.PathLike) -> Translator:
    """The translator saved in a run directory (best.pt, else last.pt) or a checkpoint file."""
    ckpt, p = load_task_checkpoint(path, "translate")
    try:
        cfg = TranslateConfig(**ckpt["config"]["translate"])
        src_vocab = SeqVocab.from_dict(ckpt["source_vocab"])
        tgt_vocab = SeqVocab.from_dict(ckpt["target_vocab"])
        model = build_model(cfg, len(src_vocab), len(tgt_vocab))
        model.load_state_dict(ckpt["model"])
    except (KeyError, TypeError, ValueError, RuntimeError) as exc:
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0][:160]
        raise CheckpointError(f"{p} is not a usable translate checkpoint: {first}") from None
    model.eval()
    return Translator(model, src_vocab, tgt_vocab, cfg, ckpt)


def read_sources(path: str | os.PathLike, source_column: str = "source") -> list[str]:
    """Sources from ``path``: the ``source_column`` of a .tsv/.csv/.jsonl pairs file (its
    targets are not needed), else one source per non-blank line of a UTF-8 text file."""
    p = Path(path)
    if p.suffix.lower() in FORMATS:
        return [s for s, _ in read_pairs(p, source_column, source_column, flag="--input")]
    return read_texts(p)  # classify's reader of one text per line


def predict(
    checkpoint: str | os.PathLike,
    texts: Sequence[str] = (),
    input_path: str | os.PathLike | None = None,
    beam_size: int = 5,
    n_best: int = 1,
    max_length: int | None = None,
    out: TextIO | None = None,
) -> list[list[tuple[str, Hypothesis]]]:
    """Print ``source<TAB>output`` per text (with ``n_best`` > 1: ``source<TAB>rank<TAB>
    score<TAB>output``, score = length-normalized log-probability) for ``texts`` or the
    sources of ``input_path`` (not both)."""
    out = out or sys.stdout
    if texts and input_path is not None:
        raise RnnkitError("give texts as arguments or --input FILE, not both")
    if not texts and input_path is None:
        raise RnnkitError("nothing to translate: give texts as arguments or --input FILE")
    _check_beam(beam_size, n_best, max_length)
    translator = load_translator(checkpoint)
    if input_path is not None:
        texts = read_sources(input_path, translator.config.source_column)
    results = translator.n_best(list(texts), beam_size, n_best, max_length)
    for text, best in zip(texts, results):
        source = " ".join(text.split())
        for rank, (output, hyp) in enumerate(best, start=1):
            line = (
                f"{source}\t{output}"
                if n_best == 1
                else f"{source}\t{rank}\t{hyp.score:.4f}\t{output}"
            )
            out.write(line + "\n")
    out.flush()
    return results


def evaluate(
    checkpoint: str | os.PathLike,
    data: str | os.PathLike | None = None,
    beam_size: int = 5,
    json_path: str | os.PathLike | None = None,
    out: TextIO | None = None,
) -> dict[str, Any]:
    """Score the model on every pair of ``data`` (its own columns, levels and encoding as in
    training; None: the training run's own test split, cut again as training cut it): greedy
    and, for ``beam_size`` > 1, beam search. Prints the table; writes the metrics as JSON to
    ``json_path`` when given."""
    out = out or sys.stdout
    _check_beam(beam_size, 1, None)
    translator = load_translator(checkpoint)
    cfg = translator.config
    without_stress = cfg.stressed_cmudict and data is None  # its own split of the dictionary
    if data is None:
        everything = load_pairs(cfg)
        test = split_by_source(everything, cfg.val_split, cfg.test_split, cfg.split_seed)[2]
        pairs, data = [everything[i] for i in test], "the training run's test split"
    else:
        pairs = read_pairs(data, cfg.source_column, cfg.target_column, cfg.encoding)
    split_ = heldout(pairs, translator.src_vocab, translator.tgt_vocab)
    results, rows = {}, {}
    for k in [1] if beam_size == 1 else [1, beam_size]:
        metrics, _ = score_heldout(translator.model, translator.src_vocab, translator.tgt_vocab,
                                   split_, k, cfg.length_penalty, cfg.max_length,
                                   without_stress)  # fmt: skip
        results["greedy" if k == 1 else f"beam_{k}"] = metrics
        rows["greedy" if k == 1 else f"beam {k}"] = metrics
    out.write(f"{data}: {len(split_):,} sources, {len(pairs):,} pairs\n{format_table(rows)}\n")
    out.flush()
    report = {"data": str(data), "sources": len(split_), "pairs": len(pairs), **results}
    if json_path is not None:
        write_json(json_path, report)
    return report
