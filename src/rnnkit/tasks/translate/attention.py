"""Attention over the encoder's outputs, masked by the source lengths.

``Memory`` is what the decoder reads at every step: the encoder outputs ``values`` (N, S, H),
their ``keys`` projected once per batch (not once per step), and ``mask`` (N, S), True at the
real source steps. ``Attention(query, memory)`` returns the context (N, H) and the weights
(N, S): a softmax over the real steps only, exactly 0 on padding, summing to 1.

Scores of a query q (N, H) against the outputs m_s:
``luong-dot``      q · m_s (Luong et al. 2015);
``luong-general``  q · W m_s (keys = W m_s);
``bahdanau``       v · tanh(W_q q + W_k m_s) (Bahdanau et al. 2015; keys = W_k m_s + b).
"""

from __future__ import annotations

from typing import NamedTuple

import torch
from torch import Tensor, nn

__all__ = ["Attention", "Memory"]


class Memory(NamedTuple):
    """The encoded source as every decoder step sees it (see the module docstring)."""

    values: Tensor  # (N, S, H) encoder outputs, zero past each length
    keys: Tensor  # (N, S, H) what queries are scored against
    mask: Tensor  # (N, S) bool, True at the real source steps

    def select(self, index: Tensor) -> Memory:
        """The rows ``index`` (N',) of every field (beam search repeats each source K times)."""
        return Memory(*(t.index_select(0, index) for t in self))


class Attention(nn.Module):
    """One of ``luong-dot``, ``luong-general`` or ``bahdanau`` attention of width ``hidden``."""

    def __init__(self, kind: str, hidden: int) -> None:
        super().__init__()
        if kind not in ("luong-dot", "luong-general", "bahdanau"):
            raise ValueError(f"unknown attention {kind!r}")
        self.kind = kind
        if kind == "luong-general":
            self.W = nn.Linear(hidden, hidden, bias=False)
        elif kind == "bahdanau":
            self.W_q = nn.Linear(hidden, hidden, bias=False)
            self.W_k = nn.Linear(hidden, hidden)
            self.v = nn.Linear(hidden, 1, bias=False)

    def memory(self, values: Tensor, lengths: Tensor) -> Memory:
        """The ``Memory`` of encoder outputs ``values`` (N, S, H) with source ``lengths`` (N,)."""
        mask = torch.arange(values.shape[1], device=values.device) < lengths[:, None]
        if self.kind == "luong-general":
            keys = self.W(values)
        elif self.kind == "bahdanau":
            keys = self.W_k(values)
        else:
            keys = values
        return Memory(values, keys, mask)

    def forward(self, query: Tensor, memory: Memory) -> tuple[Tensor, Tensor]:
        """query (N, H) -> (context (N, H), weights (N, S)); or the queries of every target
        step at once, (N, T, H) -> ((N, T, H), (N, T, S)) (luong kinds only)."""
        steps = query.dim() == 3
        q = query if steps else query[:, None]  # (N, T, H)
        if self.kind == "bahdanau":
            if steps:
                raise ValueError("bahdanau attention reads one step at a time")
            scores = self.v(torch.tanh(memory.keys + self.W_q(query)[:, None])).squeeze(2)[:, None]
        else:
            scores = torch.bmm(q, memory.keys.transpose(1, 2))  # (N, T, S)
        scores = scores.masked_fill(~memory.mask[:, None], float("-inf"))
        weights = torch.softmax(scores, dim=2)  # exactly 0 where masked
        context = torch.bmm(weights, memory.values)  # (N, T, H)
        return (context, weights) if steps else (context[:, 0], weights[:, 0])
