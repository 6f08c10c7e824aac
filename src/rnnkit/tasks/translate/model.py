"""The encoder-decoder: a bidirectional stacked encoder, an attentive decoder stepped one token
at a time with carried state, and ``Seq2Seq`` around them.

``Encoder`` runs the whole source in one call of an rnnkit stack with the true lengths (no
step over padding): outputs (B, S, H) with both directions side by side (H/2 each), and the
final states of every layer, directions side by side, (L, B, H), which start the decoder.

``Decoder.step(y, state, memory)`` is one target step for N rows: the previous token's
embedding (with the last attentional vector when Luong's input feeding is on, or Bahdanau's
context from the previous hidden state) goes through a T=1 call of an rnnkit stack that carries
``state.hx``; Luong attention then reads the source with the new top hidden state h_t, and
the attentional vector a_t = tanh(W_c [c_t; h_t]) gives the logits (dropout before the output
layer). Without attention a_t = h_t. Any registered cell works on either side; states the
encoder's cell lacks (an LSTM decoder after a GRU encoder: c) start at zero.

``Seq2Seq(src, src_lengths, tgt_in, teacher_forcing)`` is the training forward: logits
(B, T, V) for every target position; a step's input is the true previous token with
probability ``teacher_forcing``, else the model's own last guess (drawn per row from torch's
RNG, which checkpoints hold). With full teacher forcing and no dependence of a step's input
on the step before (luong attention without input feeding, or none), the decoder runs the
whole target in one call of its stack (``Decoder.teacher_forced``): the same function as
stepping, without a Python step per token.
"""

from __future__ import annotations

from typing import NamedTuple

import torch
from torch import Tensor, nn

from ...layers.registry import recurrent_stack
from .attention import Attention, Memory
from .vocab import BOS, PAD

__all__ = ["Decoder", "DecoderState", "Encoder", "Seq2Seq"]


def _as_tuple(state: Tensor | tuple[Tensor, ...]) -> tuple[Tensor, ...]:
    return state if isinstance(state, tuple) else (state,)


def _as_hx(states: tuple[Tensor, ...]) -> Tensor | tuple[Tensor, ...]:
    return states[0] if len(states) == 1 else states


class DecoderState(NamedTuple):
    """What one decoder step hands the next."""

    hx: tuple[Tensor, ...]  # the stack's states, each (L, N, H)
    feed: Tensor | None  # (N, H) the last attentional vector (input feeding), else None

    def select(self, index: Tensor) -> DecoderState:
        """The rows ``index`` (N',) (beam search: the beams that go on)."""
        hx = tuple(s.index_select(1, index) for s in self.hx)
        feed = None if self.feed is None else self.feed.index_select(0, index)
        return DecoderState(hx, feed)


class Encoder(nn.Module):
    """Embedding -> dropout -> rnnkit stack over the true source lengths."""

    def __init__(self, vocab: int, embed: int, hidden: int, layers: int, cell: str,
                 bidirectional: bool, dropout: float) -> None:  # fmt: skip
        super().__init__()
        self.directions, self.layers = (2 if bidirectional else 1), layers
        self.embed = nn.Embedding(vocab, embed, padding_idx=PAD)
        self.drop = nn.Dropout(dropout)
        self.rnn = recurrent_stack(
            cell, embed, hidden // self.directions, layers, dropout, bidirectional=bidirectional
        )

    def forward(self, src: Tensor, lengths: Tensor) -> tuple[Tensor, tuple[Tensor, ...]]:
        """src (B, S) ids, lengths (B,) -> (outputs (B, S, H), final states each (L, B, H))."""
        out, state = self.rnn(self.drop(self.embed(src)), lengths=lengths.cpu())
        L, D = self.layers, self.directions
        finals = []
        for s in _as_tuple(state):  # (L*D, B, H/D) -> (L, B, H): directions side by side
            B, h = s.shape[1], s.shape[2]
            finals.append(s.view(L, D, B, h).permute(0, 2, 1, 3).reshape(L, B, D * h))
        return out, tuple(finals)


class Decoder(nn.Module):
    """One target step at a time (see the module docstring)."""

    def __init__(self, vocab: int, embed: int, hidden: int, layers: int, cell: str,
                 attention: str, input_feeding: bool, dropout: float,
                 tie_embeddings: bool) -> None:  # fmt: skip
        super().__init__()
        self.hidden, self.kind = hidden, attention
        self.feeding = input_feeding and attention.startswith("luong")
        extra = hidden if self.feeding or attention == "bahdanau" else 0
        self.embed = nn.Embedding(vocab, embed, padding_idx=PAD)
        self.drop = nn.Dropout(dropout)
        self.rnn = recurrent_stack(cell, embed + extra, hidden, layers, dropout)
        self.attention = Attention(attention, hidden) if attention != "none" else None
        self.combine = nn.Linear(2 * hidden, hidden, bias=False) if self.attention else None
        self.out = nn.Linear(hidden, vocab)
        if tie_embeddings:
            self.out.weight = self.embed.weight  # (V, E) with E = H

    def n_states(self) -> int:
        """How many states the stack carries: h, and c for the LSTM family."""
        return 1 + getattr(self.rnn.cell, "extra_states", 0)

    def initial(self, finals: tuple[Tensor, ...], n_states: int) -> DecoderState:
        """The first state from the encoder's finals (L, N, H); missing ones are zeros."""
        hx = tuple(finals[k] if k < len(finals) else torch.zeros_like(finals[0])
                   for k in range(n_states))  # fmt: skip
        feed = finals[0].new_zeros(finals[0].shape[1:]) if self.feeding else None
        return DecoderState(hx, feed)

    def step(
        self, y: Tensor, state: DecoderState, memory: Memory
    ) -> tuple[Tensor, DecoderState, Tensor | None]:
        """y (N,) previous tokens -> (logits (N, V), next state, attention weights (N, S))."""
        x = self.drop(self.embed(y))  # (N, E)
        weights = None
        if self.kind == "bahdanau":  # context from the previous top hidden state
            context, weights = self.attention(state.hx[0][-1], memory)
            x = torch.cat([x, context], dim=1)
        elif self.feeding:
            x = torch.cat([x, state.feed], dim=1)
        out, hx = self.rnn(x[:, None], _as_hx(state.hx))  # (N, 1, H)
        h = out[:, 0]
        if self.attention is None:
            a = h
        else:
            if self.kind != "bahdanau":
                context, weights = self.attention(h, memory)
            a = self._attentional(context, h)  # (N, H)
        logits = self.out(self.drop(a))
        return logits, DecoderState(_as_tuple(hx), a if self.feeding else None), weights

    def steps_at_once(self) -> bool:
        """True where no step's input depends on the step before (no input feeding, no
        bahdanau context): the true targets then run through the stack in one call."""
        return not self.feeding and self.kind != "bahdanau"

    def teacher_forced(self, y: Tensor, state: DecoderState, memory: Memory) -> Tensor:
        """y (N, T) the true previous tokens -> logits (N, T, V): ``step`` over every
        position at once (one call of the stack, attention for all steps in two batched
        products); only where ``steps_at_once()``."""
        out, _ = self.rnn(self.drop(self.embed(y)), _as_hx(state.hx))  # (N, T, H)
        if self.attention is None:
            a = out
        else:
            context, _ = self.attention(out, memory)  # (N, T, H)
            a = self._attentional(context, out)
        return self.out(self.drop(a))

    def _attentional(self, context: Tensor, h: Tensor) -> Tensor:
        """a = tanh(W_c [c; h]) of contexts and hidden states (..., H) -> (..., H)."""
        return torch.tanh(self.combine(torch.cat([context, h], dim=-1)))


class Seq2Seq(nn.Module):
    """Encoder + decoder (see the module docstring); sizes as ``TranslateConfig`` names them."""

    def __init__(self, src_vocab: int, tgt_vocab: int, embed: int = 128, hidden: int = 256,
                 layers: int = 2, cell: str = "lstm", decoder_cell: str | None = None,
                 bidirectional: bool = True, attention: str = "luong-general",
                 input_feeding: bool = True, dropout: float = 0.0,
                 tie_embeddings: bool = False) -> None:  # fmt: skip
        super().__init__()
        self.encoder = Encoder(src_vocab, embed, hidden, layers, cell, bidirectional, dropout)
        self.decoder = Decoder(tgt_vocab, embed, hidden, layers, decoder_cell or cell,
                               attention, input_feeding, dropout, tie_embeddings)  # fmt: skip
        self.n_states = self.decoder.n_states()

    def start(self, src: Tensor, lengths: Tensor) -> tuple[Memory, DecoderState]:
        """Encode src (B, S) with lengths (B,): (the memory, the decoder's first state)."""
        src = src[:, : int(lengths.max())]  # padding past the longest source changes nothing
        return self.encode(src, lengths)

    def encode(self, src: Tensor, lengths: Tensor) -> tuple[Memory, DecoderState]:
        """``start`` without cutting the padding past the longest source (a step whose size
        depends on the lengths' values, which an exported graph cannot hold): memory (B, S)."""
        values, finals = self.encoder(src, lengths)
        lengths = lengths.to(values.device)
        if self.decoder.attention is not None:
            memory = self.decoder.attention.memory(values, lengths)
        else:
            mask = torch.arange(values.shape[1], device=values.device) < lengths[:, None]
            memory = Memory(values, values, mask)
        return memory, self.decoder.initial(finals, self.n_states)

    def forward(
        self, src: Tensor, lengths: Tensor, tgt_in: Tensor, teacher_forcing: float = 1.0
    ) -> Tensor:
        """src (B, S), lengths (B,), tgt_in (B, T) starting with <bos> -> logits (B, T, V)."""
        memory, state = self.start(src, lengths)
        if teacher_forcing >= 1.0 and self.decoder.steps_at_once():
            return self.decoder.teacher_forced(tgt_in, state, memory)
        y, steps = tgt_in[:, 0], []
        for t in range(tgt_in.shape[1]):
            logits, state, _ = self.decoder.step(y, state, memory)
            steps.append(logits)
            if t + 1 < tgt_in.shape[1]:
                y = tgt_in[:, t + 1]
                if teacher_forcing < 1.0:
                    own = torch.rand(y.shape, device=y.device) >= teacher_forcing
                    y = torch.where(own, logits.argmax(dim=1), y)
        return torch.stack(steps, dim=1)

    def bos(self, n: int, device: torch.device) -> Tensor:
        """(n,) <bos> ids: the first decoder input."""
        return torch.full((n,), BOS, dtype=torch.long, device=device)
