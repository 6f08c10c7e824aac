"""Decoding a batch of sources: greedy, and batched beam search with n-best lists.

Both run the decoder one step for every row of the batch at once (beam search: B x K rows),
so a step costs a few batched tensor operations whatever B and K; the Python work per step is
a constant few lines, plus one short loop over the hypotheses that just ended.

``greedy`` takes the likeliest token at every step until ``<eos>`` or the row's length limit.
``beam_search`` keeps the K best prefixes of every source (summed log-probability). At each
step the 2K best continuations of the K beams are ranked; a continuation by ``<eos>`` that
ranks among the first K ends a hypothesis (its score is normalized as
``log p / length^length_penalty``, the length counting ``<eos>``), and the first K others go
on. A source is done when it holds K ended hypotheses, or at its length limit (the beams
still open then end there, without ``<eos>``). With K = 1 this is greedy decoding exactly.
Neither ever writes ``<pad>`` or ``<bos>``: ``next_log_probs`` renormalizes over the other ids.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor

from .model import Seq2Seq
from .vocab import BOS, EOS, PAD

__all__ = ["Hypothesis", "beam_search", "default_max_length", "greedy", "next_log_probs"]


@dataclass
class Hypothesis:
    """One decoded target: token ids (without <bos>/<eos>), and its scores."""

    tokens: list[int]
    log_prob: float  # summed log-probability of the tokens (and <eos> where it ended so)
    score: float  # beam: log_prob / length^length_penalty (n-best order); greedy: log_prob


def default_max_length(lengths: Tensor, max_length: int | None) -> Tensor:
    """(B,) the most tokens each row may write: ``max_length``, else 2 x source length + 10."""
    if max_length is not None:
        return torch.full_like(lengths, max_length)
    return 2 * lengths + 10


def next_log_probs(logits: Tensor) -> Tensor:
    """logits (N, V) -> log-probabilities (N, V) over the ids a decoding may write (float32):
    ``<pad>`` and ``<bos>`` get -inf."""
    logits = logits.float().clone()
    logits[:, [PAD, BOS]] = float("-inf")
    return torch.log_softmax(logits, dim=1)


@torch.no_grad()
def greedy(
    model: Seq2Seq,
    src: Tensor,
    lengths: Tensor,
    max_length: int | None = None,
    keep_attention: bool = False,
) -> tuple[list[Hypothesis], list[Tensor]]:
    """The likeliest token at every step, for src (B, S) with lengths (B,).

    Returns (one ``Hypothesis`` per row, and with ``keep_attention`` each row's attention
    weights (T_out, S_b) over its own source tokens, T_out counting <eos> if written).
    """
    limits = default_max_length(lengths, max_length).to(src.device)
    limit = limits.tolist()
    memory, state = model.start(src, lengths)
    B = src.shape[0]
    y = model.bos(B, src.device)
    done = torch.zeros(B, dtype=torch.bool, device=src.device)
    tokens, scores, maps = [], torch.zeros(B, device=src.device), []
    for t in range(max(limit)):
        logits, state, weights = model.decoder.step(y, state, memory)
        logp = next_log_probs(logits)
        y = logp.argmax(dim=1)
        scores += logp.gather(1, y[:, None])[:, 0].masked_fill(done, 0.0)
        tokens.append(y.masked_fill(done, PAD))
        if keep_attention and weights is not None:
            maps.append(weights)
        done |= (y == EOS) | (limits <= t + 1)
        if bool(done.all()):
            break
    ids = torch.stack(tokens, dim=1).tolist()
    out = []
    for row, n in zip(ids, limit):
        row = row[:n]
        ended = EOS in row
        kept = row[: row.index(EOS)] if ended else [i for i in row if i != PAD]
        out.append((kept, len(kept) + ended))
    hyps = [Hypothesis(k, float(s), float(s)) for (k, _), s in zip(out, scores.tolist())]
    attention = []
    if maps:
        full = torch.stack(maps, dim=1)  # (B, T, S)
        attention = [full[b, :steps, : int(lengths[b])] for b, (_, steps) in enumerate(out)]
    return hyps, attention


@torch.no_grad()
def beam_search(
    model: Seq2Seq,
    src: Tensor,
    lengths: Tensor,
    beam_size: int = 5,
    n_best: int = 1,
    length_penalty: float = 1.0,
    max_length: int | None = None,
) -> list[list[Hypothesis]]:
    """The ``n_best`` (<= beam_size) best hypotheses of each row of src (B, S), best first."""
    if not 1 <= n_best <= beam_size:
        raise ValueError(f"n_best must be in [1, beam_size={beam_size}]; got {n_best}")
    B, K, device = src.shape[0], beam_size, src.device
    limit = default_max_length(lengths, max_length).tolist()
    memory, state = model.start(src, lengths)
    rows = torch.arange(B, device=device).repeat_interleave(K)  # (B*K,) source of each beam
    memory, state = memory.select(rows), state.select(rows)
    scores = torch.full((B, K), float("-inf"), device=device)
    scores[:, 0] = 0.0  # one open beam per source at first
    history = torch.empty(B * K, 0, dtype=torch.long, device=device)
    y = model.bos(B * K, device)
    ended: list[list[Hypothesis]] = [[] for _ in range(B)]
    active = [True] * B
    base = (torch.arange(B, device=device) * K)[:, None]  # (B, 1) first beam row of each source
    for t in range(max(limit)):
        logits, state, _ = model.decoder.step(y, state, memory)
        logp = next_log_probs(logits)  # (B*K, V)
        V = logp.shape[1]
        total = (scores[:, :, None] + logp.view(B, K, V)).view(B, K * V)
        top, index = total.topk(min(2 * K, K * V), dim=1)  # (B, 2K) ranked continuations
        beam, token = index // V, index % V
        is_eos = token == EOS
        ends = is_eos & torch.isfinite(top)
        ends[:, K:] = False  # only an <eos> among the first K ends a hypothesis
        going = torch.argsort(is_eos.to(torch.int8), dim=1, stable=True)[:, :K]  # non-<eos>
        if bool(ends.any()):
            for b, r in ends.nonzero().tolist():
                if active[b]:
                    prefix = history[base[b, 0] + beam[b, r]].tolist()
                    _end(ended[b], prefix, float(top[b, r]), length_penalty, True)
        select = (base + beam.gather(1, going)).view(-1)  # (B*K,) rows that go on
        token = token.gather(1, going)
        scores = top.gather(1, going)
        history = torch.cat([history.index_select(0, select), token.view(-1, 1)], dim=1)
        state = state.select(select)
        y = token.view(-1)
        for b in range(B):
            if active[b] and (len(ended[b]) >= K or t + 1 >= limit[b]):
                active[b] = False
                if len(ended[b]) < K:  # the length limit: the open beams end here
                    for k in range(K):
                        if torch.isfinite(scores[b, k]):
                            prefix = history[b * K + k].tolist()
                            _end(ended[b], prefix, float(scores[b, k]), length_penalty, False)
        if not any(active):
            break
    return [sorted(h, key=lambda x: -x.score)[:n_best] for h in ended]


def _end(into: list[Hypothesis], tokens: list[int], log_prob: float, alpha: float,
         eos: bool) -> None:  # fmt: skip
    """Add the ended hypothesis ``tokens`` (ended by <eos> or not) to ``into``."""
    length = len(tokens) + eos
    into.append(Hypothesis(tokens, log_prob, log_prob / max(1, length) ** alpha))
