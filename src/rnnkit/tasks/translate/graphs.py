"""The encoder-decoder as the two graphs a seq2seq model ships in (ONNX: rnnkit/export_translate.py
writes them): the encoder, and one decoder step. The search loop (greedy, beam) stays in the
runner, which feeds each step's state to the next.

``EncoderGraph(model)(src, lengths)``: source ids (B, S) post-padded and their lengths (B,) ->
``memory`` (B, S, H) (the encoder's outputs, zero past each length), ``keys`` (B, S, H) (the
memory as the attention scores it, projected once: luong-general and bahdanau only), then the
decoder's first state: ``h`` (L, B, H), ``c`` (L, B, H) for a decoder of the LSTM family, and
``feed`` (B, H) with input feeding (zeros).

``DecoderStepGraph(model)(tokens, *state, *memory)``: the previous tokens (B,) (``<bos>`` at
the first step), the state by the names above, and with attention ``memory``, ``keys`` and the
source ``lengths`` (B,) (the mask: the step reads no padding) -> ``log_probs`` (B, V) as the
search ranks them (``<pad>`` and ``<bos>`` at -inf), the next state ``next_h``, ``next_c``,
``next_feed``, and with attention the weights ``attention`` (B, S) (0 on padding).

``input_names`` / ``output_names`` of each graph say which of the names a model's graph has;
``examples`` gives inputs to trace them with (B 2, S 5, one source padded).
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from .attention import Memory
from .model import DecoderState, Seq2Seq
from .search import next_log_probs

__all__ = ["DecoderStepGraph", "EncoderGraph", "examples", "state_names"]


def state_names(model: Seq2Seq) -> list[str]:
    """The names of the decoder's state: ``h``, ``c`` (LSTM family), ``feed`` (input feeding)."""
    names = ["h", "c", *(f"state{k}" for k in range(2, model.n_states))][: model.n_states]
    return names + (["feed"] if model.decoder.feeding else [])


def _has_keys(model: Seq2Seq) -> bool:
    """Whether the attention scores a projection of the memory (else the memory itself)."""
    return model.decoder.kind in ("luong-general", "bahdanau")


class EncoderGraph(nn.Module):
    """``(src (B, S), lengths (B,))`` -> memory, [keys], the decoder's first state (see the
    module docstring)."""

    def __init__(self, model: Seq2Seq):
        super().__init__()
        self.model = model
        self.input_names = ["src", "lengths"]
        self.output_names = ["memory"] + (["keys"] if _has_keys(model) else [])
        self.output_names += state_names(model)

    def forward(self, src: Tensor, lengths: Tensor) -> tuple[Tensor, ...]:
        memory, state = self.model.encode(src, lengths)
        out = [memory.values] + ([memory.keys] if _has_keys(self.model) else [])
        return (*out, *state.hx) + (() if state.feed is None else (state.feed,))


class DecoderStepGraph(nn.Module):
    """``(tokens (B,), *state, [memory, [keys], lengths])`` -> log_probs (B, V), the next state,
    [attention (B, S)] (see the module docstring)."""

    def __init__(self, model: Seq2Seq):
        super().__init__()
        self.model = model
        states = state_names(model)
        self.attends = model.decoder.attention is not None
        reads = ["memory"] + (["keys"] if _has_keys(model) else []) + ["lengths"]
        self.input_names = ["tokens", *states] + (reads if self.attends else [])
        self.output_names = ["log_probs", *(f"next_{n}" for n in states)]
        self.output_names += ["attention"] if self.attends else []

    def forward(self, tokens: Tensor, *inputs: Tensor) -> tuple[Tensor, ...]:
        n, decoder = self.model.n_states, self.model.decoder
        hx, rest = inputs[:n], list(inputs[n:])
        feed = rest.pop(0) if decoder.feeding else None
        memory = None
        if self.attends:
            values = rest.pop(0)
            keys = rest.pop(0) if _has_keys(self.model) else values
            lengths = rest.pop(0)
            mask = torch.arange(values.shape[1], device=values.device) < lengths[:, None]
            memory = Memory(values, keys, mask)  # (B, S, H) twice, (B, S)
        logits, state, weights = decoder.step(tokens, DecoderState(tuple(hx), feed), memory)
        out = (next_log_probs(logits), *state.hx)
        out += () if state.feed is None else (state.feed,)
        return out + ((weights,) if self.attends else ())


def examples(model: Seq2Seq) -> tuple[tuple[Tensor, ...], tuple[Tensor, ...]]:
    """Inputs for tracing (encoder, decoder step): B 2, S 5, the second source of length 3;
    the step's from the encoder's outputs for them (eval mode, no gradients)."""
    seeded = torch.Generator().manual_seed(0)
    V = model.encoder.embed.num_embeddings
    src = torch.randint(min(4, V - 1), V, (2, 5), generator=seeded)  # past the special ids
    lengths = torch.tensor([5, 3])
    src[1, 3:] = 0  # <pad>
    encoder, step = EncoderGraph(model), DecoderStepGraph(model)
    with torch.no_grad():
        outputs = dict(zip(encoder.output_names, encoder(src, lengths)))
    outputs["tokens"] = model.bos(2, src.device)
    outputs["lengths"] = lengths
    return (src, lengths), tuple(outputs[n] for n in step.input_names)
