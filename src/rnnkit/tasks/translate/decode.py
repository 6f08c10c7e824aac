"""Texts in, decoded texts out, in batches; and the scores of a held-out split.

``translate_texts`` encodes the sources, decodes them in batches of similar length (greedy
for a beam of 1, else beam search with about ``batch_size`` beam rows per batch) and returns,
in the input order, each source's n-best list of (text, ``Hypothesis``). ``score_heldout``
decodes every distinct source of a split and scores the outputs against all its references:
WER and PER always, BLEU and chrF (sacrebleu) for word-level pairs (neither side at
the char level), and on request WER and PER with the stress digits of ARPAbet vowels dropped
on both sides (the 39 phonemes that published CMUdict results are scored on).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
from torch import nn

from .metrics import bleu_chrf, error_rates, unstressed
from .model import Seq2Seq
from .pairs import Heldout
from .search import Hypothesis, beam_search, greedy
from .vocab import SeqVocab, encode_batch, split

__all__ = ["EVAL_ROWS", "score_heldout", "translate_texts"]

EVAL_ROWS = 512  # decoder rows per batch (sources x beam)


@torch.no_grad()
def translate_texts(
    model: Seq2Seq,
    src_vocab: SeqVocab,
    tgt_vocab: SeqVocab,
    texts: Sequence[str],
    beam_size: int = 1,
    n_best: int = 1,
    length_penalty: float = 1.0,
    max_length: int | None = None,
    batch_size: int = EVAL_ROWS,
) -> list[list[tuple[str, Hypothesis]]]:
    """The ``n_best`` decodings of each of ``texts`` (see the module docstring); eval mode."""
    was_training = model.training
    model.eval()
    device = next(model.parameters()).device
    lengths = [len(src_vocab.encode(t)) for t in texts]
    order = sorted(range(len(texts)), key=lambda i: lengths[i])
    step = max(1, batch_size // beam_size)
    out: list[list[tuple[str, Hypothesis]]] = [[] for _ in texts]
    for start in range(0, len(order), step):
        chunk = order[start : start + step]
        src, src_lengths = encode_batch(src_vocab, [texts[i] for i in chunk], eos=False)
        src, src_lengths = src.to(device), src_lengths.to(device)
        if beam_size == 1 and n_best == 1:
            hyps = [[h] for h in greedy(model, src, src_lengths, max_length)[0]]
        else:
            hyps = beam_search(
                model, src, src_lengths, beam_size, n_best, length_penalty, max_length
            )
        for i, best in zip(chunk, hyps):
            out[i] = [(tgt_vocab.decode(h.tokens), h) for h in best]
    model.train(was_training)
    return out


def score_heldout(
    model: nn.Module,
    src_vocab: SeqVocab,
    tgt_vocab: SeqVocab,
    split_: Heldout,
    beam_size: int = 1,
    length_penalty: float = 1.0,
    max_length: int | None = None,
    without_stress: bool = False,
) -> tuple[dict[str, Any], list[str]]:
    """(metrics, the output text of each source) of ``model`` on a held-out split;
    ``without_stress``: also ``wer_unstressed`` and ``per_unstressed``."""
    decoded = translate_texts(model, src_vocab, tgt_vocab, split_.sources, beam_size, 1,
                              length_penalty, max_length)  # fmt: skip
    outputs = [best[0][0] for best in decoded]
    level = tgt_vocab.level
    hyps = [split(o, level) for o in outputs]
    refs = [[split(r, level) for r in rs] for rs in split_.references]
    metrics: dict[str, Any] = error_rates(hyps, refs)
    if without_stress:
        plain = error_rates([unstressed(h) for h in hyps],
                            [[unstressed(r) for r in rs] for rs in refs])  # fmt: skip
        metrics.update(wer_unstressed=plain["wer"], per_unstressed=plain["per"])
    if "char" not in (level, src_vocab.level):  # word-level pairs (not G2P, not char MT)
        metrics.update(bleu_chrf(outputs, split_.references))
    return metrics, outputs
