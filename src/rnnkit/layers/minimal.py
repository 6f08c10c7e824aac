"""``MinGRU`` and ``MinLSTM`` layers (Feng et al. 2024): gates from x_t alone, scan or loop.

The forward contract is rnnkit.GRU's: ``forward(input, hx=None, lengths=None)`` with input
(T, B, I), (B, T, I) with ``batch_first``, unbatched (T, I), or a PackedSequence; ``hx`` = h_0
(L*D, B, H); returns ``(output, h_n)``. MinLSTM has no cell state, so it too takes and returns
h alone. ``mode`` (constructor, attribute, or forward keyword) picks the engine:

- ``"scan"``: all T steps at once, a log-space parallel scan (``engine/parallel_scan.py``);
- ``"sequential"``: one step at a time (streaming: T = 1 with a carried state);
- ``"auto"`` (default): as the engine's backend says: the scan on CUDA when T > 1, else
  sequential (on CPU the step loop measured faster); the "reference" backend runs the loop,
  the "native" backend declines (it has no loop for these cells). Both give the same numbers.

``scan_chunk`` (keyword, default 64) is the number of steps per parallel scan; the state is
carried between chunks. ``None`` scans all T at once (see ``engine/parallel_scan.py``).

Parameters, per layer k and direction: ``weight_ih_l{k}[_reverse]`` (G, I_k) and, with
``bias``, ``bias_ih_l{k}[_reverse]`` (G,); G = 2H (z, h̃) for MinGRU, 3H (f, i, h̃) for MinLSTM.
There are no hidden-to-hidden weights. Init is ``nn.Linear``'s, as in the paper's code: weight
and bias uniform in ±1/sqrt(I_k).
"""

from __future__ import annotations

import math
from typing import Any

import torch
from torch import Tensor, nn
from torch.nn.utils.rnn import PackedSequence

from ..cells.minimal import MIN_GRU, MIN_LSTM, MinCell
from ..engine import DEFAULT_CHUNK, SCAN_MODES, StackSpec, run_stack
from .base import RNNBase
from .options import check_size

__all__ = ["MinGRU", "MinLSTM", "MinRNNBase"]


_NOT_MINIMAL = {"proj_size", "forget_bias", "chrono_init", "recurrent_init", "zoneout",
                "recurrent_dropout", "input_dropout"}  # fmt: skip


def _check_mode(owner: str, mode: object) -> str:
    if mode not in SCAN_MODES:
        raise ValueError(f"{owner} expected mode in {SCAN_MODES}, got {mode!r}")
    return str(mode)


class MinRNNBase(RNNBase):
    """A multi-layer, optionally bidirectional stack of a minimal cell (``MinCell``): the stack
    driver, options and state handling of every rnnkit layer, with the minimal cells' own
    parameters (no W_hh) and init. ``mode`` is "auto", "scan" or "sequential"."""

    cell: MinCell

    def __init__(
        self,
        *args: Any,
        mode: str = "auto",
        scan_chunk: int | None = DEFAULT_CHUNK,
        **kwargs: Any,  # RNNBase's torch.nn arguments (no proj_size, no recurrent noise)
    ) -> None:
        owner = type(self).__name__
        unsupported = sorted(set(kwargs) & _NOT_MINIMAL)
        if unsupported or len(args) > 7:
            got = unsupported[0] if unsupported else "proj_size (an 8th positional argument)"
            raise TypeError(f"{owner} takes no {got}: it has no hidden-to-hidden weights")
        mode = _check_mode(owner, mode)
        chunk = None if scan_chunk is None else check_size(owner, "scan_chunk", scan_chunk, 1)
        self.scan_chunk = chunk
        super().__init__(*args, **kwargs)
        self.mode = mode  # the scan mode (RNNBase keeps torch's mode string there)

    def _parameter_shapes(self, layer_in: int, G: int) -> dict[str, tuple[int, ...]]:
        """weight_ih (G, I_k) and, with bias, bias_ih (G,): no hidden-to-hidden weights."""
        shapes = {"weight_ih": (G, layer_in)}
        if self.bias:
            shapes["bias_ih"] = (G,)
        return shapes

    def reset_parameters(self) -> None:
        """nn.Linear's init, as the paper's code: weight and bias uniform in ±1/sqrt(fan_in)."""
        for weights in self.all_weights:
            bound = 1.0 / math.sqrt(weights[0].shape[1])
            for w in weights:
                nn.init.uniform_(w, -bound, bound)

    def stack_spec(self, mode: str | None = None) -> StackSpec:
        """RNNBase's, with the scan mode of this call (``mode``, or the layer's)."""
        spec = super().stack_spec()
        mode = _check_mode(type(self).__name__, self.mode if mode is None else mode)
        if spec.min_mode != mode or spec.scan_chunk != self.scan_chunk:
            spec = spec._replace(min_mode=mode, scan_chunk=self.scan_chunk)
            self.__dict__["_stack_spec"] = spec
        return spec

    def forward(
        self,
        input: Tensor | PackedSequence,
        hx: Tensor | None = None,
        lengths: Tensor | None = None,
        mode: str | None = None,
    ) -> tuple[Tensor | PackedSequence, Tensor]:
        """Run the stack; returns ``(output, h_n)`` like torch.nn.GRU.

        ``input``: (T, B, I), (B, T, I) with batch_first, (T, I) unbatched, or a PackedSequence.
        ``hx``: h_0 (L*D, B, H) ((L*D, H) unbatched), or None for zeros.
        ``lengths``: optional (B,) integers in [1, T]: outputs past a sequence's length are zero,
        h_n is its state at its last valid step, the reverse direction starts at its end.
        ``mode``: "auto", "scan" or "sequential" for this call (default: ``self.mode``).
        ``output``: (T, B, D*H) (or batch-first / unbatched / packed like the input).
        """
        spec = self.stack_spec(mode)
        weight = self._parameters["weight_ih_l0"]
        grad = torch.is_grad_enabled()
        return run_stack(spec, self, input, hx, lengths, self.stack_noise(), weight, grad)

    def extra_repr(self) -> str:
        s = f"{self.input_size}, {self.hidden_size}"
        defaults = {"num_layers": 1, "bias": True, "batch_first": False, "dropout": 0.0}
        defaults |= {"bidirectional": False, "mode": "auto", "scan_chunk": DEFAULT_CHUNK}
        for name, default in defaults.items():
            if getattr(self, name) != default:
                s += f", {name}={getattr(self, name)!r}"
        return s


class MinGRU(MinRNNBase):
    """minGRU: z = σ(W_z x + b_z), h̃ = g(W_h x + b_h), h_t = (1 - z) ⊙ h_{t-1} + z ⊙ h̃."""

    cell = MIN_GRU


class MinLSTM(MinRNNBase):
    """minLSTM: f, i = σ(W x + b), h̃ = g(W_h x + b_h), h_t = f' ⊙ h_{t-1} + i' ⊙ h̃.

    f' = f / (f + i), i' = i / (f + i). Returns ``(output, h_n)``: there is no cell state.
    """

    cell = MIN_LSTM
