"""Pairs as the model sees them: encoded training batches, and held-out sets grouped by source.

``EncodedPairs`` holds N pairs as post-padded id matrices: sources (N, S) with lengths, and
targets (N, T) framed as ``<bos> tokens <eos>``; ``rows(index)`` cuts one batch to its longest
members and returns the decoder's input (``<bos>`` + tokens) and the tokens it must predict
(tokens + ``<eos>``). ``Heldout`` is a validation or test split as decoding sees it: each
distinct source once, with all of its references (a prediction counts as correct if it
equals any of them).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass

from torch import Tensor

from .data import Pairs
from .vocab import SeqVocab, encode_batch

__all__ = ["EncodedPairs", "Heldout", "encode_pairs", "heldout"]


@dataclass
class EncodedPairs:
    """N pairs as ids (see the module docstring)."""

    src: Tensor  # (N, S) int64, <pad> after each source
    src_lengths: Tensor  # (N,) int64 in [1, S]
    tgt: Tensor  # (N, T) int64: <bos> tokens <eos> <pad>...
    tgt_lengths: Tensor  # (N,) int64, <bos> and <eos> counted

    def __len__(self) -> int:
        return self.src.shape[0]

    def rows(self, index: Tensor) -> tuple[Tensor, Tensor, Tensor, Tensor]:
        """(src (b, s), src_lengths (b,), tgt_in (b, t), tgt_out (b, t)) of rows ``index``;
        s and t are the longest of these rows."""
        lengths = self.src_lengths[index]
        src = self.src[index, : int(lengths.max())]
        tgt = self.tgt[index, : int(self.tgt_lengths[index].max())]
        return src, lengths, tgt[:, :-1], tgt[:, 1:]


def encode_pairs(pairs: Pairs, src_vocab: SeqVocab, tgt_vocab: SeqVocab) -> EncodedPairs:
    """The ``EncodedPairs`` of ``pairs``."""
    src, src_lengths = encode_batch(src_vocab, [s for s, _ in pairs], eos=False)
    tgt, tgt_lengths = encode_batch(tgt_vocab, [t for _, t in pairs], eos=True, bos=True)
    return EncodedPairs(src, src_lengths, tgt, tgt_lengths)


@dataclass
class Heldout:
    """A held-out split by distinct source: ``sources[i]`` has ``references[i]`` (>= 1)."""

    sources: list[str]
    references: list[list[str]]
    pairs: EncodedPairs  # every pair of the split (for the validation loss)

    def __len__(self) -> int:
        return len(self.sources)


def heldout(pairs: Pairs, src_vocab: SeqVocab, tgt_vocab: SeqVocab) -> Heldout:
    """The ``Heldout`` of ``pairs``: sources in first-seen order, each with its targets (a
    target repeated for one source counts once)."""
    refs: dict[str, list[str]] = defaultdict(list)
    for s, t in pairs:
        if t not in refs[s]:
            refs[s].append(t)
    return Heldout(list(refs), list(refs.values()), encode_pairs(pairs, src_vocab, tgt_vocab))


def group_sizes(references: Sequence[Sequence[str]]) -> dict[str, int]:
    """How many sources have 1, 2, ... references (for the report)."""
    sizes: dict[str, int] = defaultdict(int)
    for r in references:
        sizes[str(len(r))] += 1
    return dict(sorted(sizes.items()))
