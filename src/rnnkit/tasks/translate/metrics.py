"""Scores of decoded targets against one or more references per source.

``edit_distance`` is Levenshtein's (insertions, deletions, substitutions, each 1) over tokens.
``error_rates`` gives what G2P papers report: WER, the share of sources whose output equals
none of its references (any phoneme wrong makes the word wrong), and PER, the summed edit
distance to the closest reference over the summed lengths of those references (the closest
one: least edits, then the shorter). ``bleu_chrf`` is corpus BLEU and chrF from sacrebleu
(a well-kept library: its tokenization and smoothing are the standard ones) for word-level
text. ``unstressed`` drops the stress digit of ARPAbet vowels (AH1 -> AH), so that a model
trained on CMUdict with stress can be scored as published G2P results are: on 39 phonemes.
``format_table`` and ``write_json`` show them.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ...atomic import write_json_atomic

__all__ = [
    "bleu_chrf",
    "edit_distance",
    "error_rates",
    "format_table",
    "unstressed",
    "write_json",
]

_STRESS = re.compile(r"^([A-Z]+)[012]$")  # an ARPAbet vowel with its stress digit


def edit_distance(a: Sequence[str], b: Sequence[str]) -> int:
    """The least insertions, deletions and substitutions that turn ``a`` into ``b``."""
    previous = list(range(len(b) + 1))  # distances from a[:0] to each prefix of b
    for i, x in enumerate(a, start=1):
        current = [i]
        for j, y in enumerate(b, start=1):
            current.append(min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (x != y)))
        previous = current
    return previous[-1]


def error_rates(
    hypotheses: Sequence[Sequence[str]], references: Sequence[Sequence[Sequence[str]]]
) -> dict[str, float]:
    """WER and PER (see the module docstring) of token lists ``hypotheses`` (N) against
    ``references`` (N lists of one or more token lists); also the counts behind them."""
    if len(hypotheses) != len(references):
        raise ValueError(f"{len(hypotheses)} hypotheses but {len(references)} reference lists")
    wrong = edits = length = 0
    for hyp, refs in zip(hypotheses, references):
        hyp = list(hyp)
        if not any(hyp == list(r) for r in refs):
            wrong += 1
        best = min((edit_distance(hyp, r), len(r)) for r in refs)
        edits, length = edits + best[0], length + best[1]
    n = max(1, len(hypotheses))
    return {
        "wer": wrong / n,
        "per": edits / max(1, length),
        "sources": len(hypotheses),
        "wrong": wrong,
        "edits": edits,
        "reference_tokens": length,
    }


def unstressed(tokens: Sequence[str]) -> list[str]:
    """``tokens`` with the stress digit of each ARPAbet vowel dropped: AH0, AH1, AH2 -> AH."""
    return [_STRESS.sub(r"\1", t) for t in tokens]


def bleu_chrf(hypotheses: Sequence[str], references: Sequence[Sequence[str]]) -> dict[str, float]:
    """Corpus BLEU and chrF (sacrebleu, 0-100) of texts ``hypotheses`` (N) against
    ``references`` (N lists of one or more texts each)."""
    import sacrebleu

    most = max((len(r) for r in references), default=1)
    streams = [[r[k] if k < len(r) else None for r in references] for k in range(most)]
    bleu = sacrebleu.corpus_bleu(list(hypotheses), streams)
    chrf = sacrebleu.corpus_chrf(list(hypotheses), streams)
    return {"bleu": float(bleu.score), "chrf": float(chrf.score)}


def format_table(rows: dict[str, dict[str, Any]]) -> str:
    """A text table: one row per decoding (``greedy``, ``beam 5``), one column per metric
    (rates in percent)."""
    columns = sorted({k for r in rows.values() for k in r if k in _SHOWN}, key=list(_SHOWN).index)
    width = max(len(n) for n in rows) + 2
    widths = [max(9, len(_SHOWN[c]) + 2) for c in columns]
    lines = [" " * width + "".join(_SHOWN[c].rjust(w) for c, w in zip(columns, widths))]
    for name, r in rows.items():
        cells = [
            f"{100 * r[c]:.2f}%".rjust(w) if c in _RATES else f"{r[c]:.2f}".rjust(w)
            for c, w in zip(columns, widths)
        ]
        lines.append(name.ljust(width) + "".join(cells))
    return "\n".join(lines)


_SHOWN = {  # metric: its column heading, in the table's order
    "wer": "WER",
    "per": "PER",
    "wer_unstressed": "WER w/o stress",
    "per_unstressed": "PER w/o stress",
    "bleu": "BLEU",
    "chrf": "CHRF",
}
_RATES = ("wer", "per", "wer_unstressed", "per_unstressed")


def write_json(path: str | Path, record: dict[str, Any]) -> None:
    """``record`` as indented JSON at ``path``, written atomically."""
    write_json_atomic(path, record, indent=2)
