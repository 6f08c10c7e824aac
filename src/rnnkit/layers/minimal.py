"""``MinGRU`` and ``MinLSTM`` layers (Feng et al. 2024): gates from x_t alone, scan or loop.

The forward contract is rnnkit.GRU's: ``forward(input, hx=None, lengths=None)`` with input
(T, B, I), (B, T, I) with ``batch_first``, unbatched (T, I), or a PackedSequence; ``hx`` = h_0
(L*D, B, H); returns ``(output, h_n)``. MinLSTM has no cell state, so it too takes and returns
h alone. ``mode`` (constructor, attribute, or forward keyword) picks the engine:

- ``"scan"``: all T steps at once, a log-space parallel scan (``engine/parallel_scan.py``);
- ``"sequential"``: one step at a time (streaming: T = 1 with a carried state);
- ``"auto"`` (default): the scan on CUDA when T > 1, else sequential (on CPU the step loop
  measured faster). Both give the same numbers.

``scan_chunk`` (keyword, default 64) is the number of steps per parallel scan; the state is
carried between chunks. ``None`` scans all T at once (see ``engine/parallel_scan.py``).

Parameters, per layer k and direction: ``weight_ih_l{k}[_reverse]`` (G, I_k) and, with
``bias``, ``bias_ih_l{k}[_reverse]`` (G,); G = 2H (z, h̃) for MinGRU, 3H (f, i, h̃) for MinLSTM.
There are no hidden-to-hidden weights. Init is ``nn.Linear``'s, as in the paper's code: weight
and bias uniform in ±1/sqrt(I_k).
"""

from __future__ import annotations

import math
import numbers
import warnings

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.nn.utils.rnn import PackedSequence

from ..cells.minimal import MIN_GRU, MIN_LSTM, MinCell
from ..engine.parallel_scan import DEFAULT_CHUNK, SCAN_MODES, min_scan
from .checks import check_dtype_device, check_shape, unpack_hx
from .sequences import SeqBatch, prepare_sequences

__all__ = ["MinGRU", "MinLSTM", "MinRNNBase"]


def _positive_int(owner: str, name: str, value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{owner} expected {name} to be an int, got {type(value).__name__}")
    if value < 1:
        raise ValueError(f"{owner} expected {name} >= 1, got {value}")
    return int(value)


def _check_mode(owner: str, mode: object) -> str:
    if mode not in SCAN_MODES:
        raise ValueError(f"{owner} expected mode in {SCAN_MODES}, got {mode!r}")
    return str(mode)


class MinRNNBase(nn.Module):
    """A multi-layer, optionally bidirectional stack of a minimal cell (``MinCell``)."""

    cell: MinCell

    def __init__(
        self,
        cell: MinCell,
        input_size: int,
        hidden_size: int,
        num_layers: int = 1,
        bias: bool = True,
        batch_first: bool = False,
        dropout: float = 0.0,
        bidirectional: bool = False,
        device: torch.device | str | None = None,
        dtype: torch.dtype | None = None,
        *,
        mode: str = "auto",
        scan_chunk: int | None = DEFAULT_CHUNK,
    ) -> None:
        super().__init__()
        owner = type(self).__name__
        self.cell = cell
        self.input_size = _positive_int(owner, "input_size", input_size)
        self.hidden_size = _positive_int(owner, "hidden_size", hidden_size)
        self.num_layers = _positive_int(owner, "num_layers", num_layers)
        self.bias, self.batch_first = bool(bias), bool(batch_first)
        self.bidirectional = bool(bidirectional)
        self.mode = _check_mode(owner, mode)
        self.scan_chunk = (
            None if scan_chunk is None else _positive_int(owner, "scan_chunk", scan_chunk)
        )
        number = isinstance(dropout, numbers.Real) and not isinstance(dropout, bool)
        if not number or not 0 <= dropout <= 1:
            raise ValueError(
                f"{owner} expected dropout to be a number in [0, 1] (the probability of "
                f"zeroing an element between layers), got {dropout!r}"
            )
        self.dropout = float(dropout)
        if dropout > 0 and num_layers == 1:
            warnings.warn(
                f"{owner}: dropout={dropout} has no effect with num_layers=1: it is applied "
                "between stacked layers only",
                stacklevel=2,
            )
        self._make_parameters({"device": device, "dtype": dtype})
        self.reset_parameters()

    def _make_parameters(self, factory: dict) -> None:
        D, H, G = self.num_directions, self.hidden_size, self.cell.gates * self.hidden_size
        self._all_weights: list[list[str]] = []
        for layer in range(self.num_layers):
            layer_in = self.input_size if layer == 0 else H * D
            for direction in range(D):
                suffix = "_reverse" if direction == 1 else ""
                names = [f"weight_ih_l{layer}{suffix}"]
                setattr(self, names[0], nn.Parameter(torch.empty(G, layer_in, **factory)))
                if self.bias:
                    names.append(f"bias_ih_l{layer}{suffix}")
                    setattr(self, names[1], nn.Parameter(torch.empty(G, **factory)))
                self._all_weights.append(names)

    def reset_parameters(self) -> None:
        """nn.Linear's init, as the paper's code: weight and bias uniform in ±1/sqrt(fan_in)."""
        for weights in self.all_weights:
            bound = 1.0 / math.sqrt(weights[0].shape[1])
            for w in weights:
                nn.init.uniform_(w, -bound, bound)

    @property
    def num_directions(self) -> int:
        return 2 if self.bidirectional else 1

    @property
    def all_weights(self) -> list[list[nn.Parameter]]:
        """Parameters per layer-direction: [weight_ih, (bias_ih)]."""
        return [[getattr(self, name) for name in names] for names in self._all_weights]

    def _initial_state(self, hx: object, seq: SeqBatch, weight: Tensor) -> Tensor:
        """h_0 (L*D, B, H) in sorted batch order; zeros where hx is None."""
        owner = type(self).__name__
        LD, B, H = self.num_layers * self.num_directions, seq.B, self.hidden_size
        states = unpack_hx(owner, hx, 1)
        if states is None:
            return weight.new_zeros(LD, B, H)
        h0 = states[0]
        check_dtype_device(owner, "h_0", h0, weight)
        if seq.unbatched:
            check_shape(owner, "h_0", h0, (LD, H), "(num_layers * num_directions, H)")
            h0 = h0.unsqueeze(1)
        else:
            check_shape(owner, "h_0", h0, (LD, B, H), "(num_layers * num_directions, B, H)")
        return seq.sort_state(h0)

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
        owner = type(self).__name__
        mode = _check_mode(owner, self.mode if mode is None else mode)
        weight = self.weight_ih_l0
        seq = prepare_sequences(owner, input, lengths, self.input_size, self.batch_first, weight)
        h0 = self._initial_state(hx, seq, weight)
        x, D = seq.data, self.num_directions
        finals = []
        for layer in range(self.num_layers):
            outs = []
            for direction in range(D):
                k = layer * D + direction
                gx = F.linear(x, *self.all_weights[k])  # (N, G) all steps in one GEMM
                reverse, h0_k = direction == 1, h0[k]
                y, h_n = min_scan(self.cell, seq.layout, reverse, gx, h0_k, mode, self.scan_chunk)
                outs.append(y)
                finals.append(h_n)
            x = outs[0] if D == 1 else torch.cat(outs, dim=1)
            if self.dropout and self.training and layer < self.num_layers - 1:
                x = F.dropout(x, self.dropout, training=True)
        h_n = seq.unsort_state(torch.stack(finals))
        return seq.output(x), (h_n.squeeze(1) if seq.unbatched else h_n)

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

    def __init__(self, input_size: int, hidden_size: int, *args, **kwargs) -> None:
        super().__init__(MIN_GRU, input_size, hidden_size, *args, **kwargs)


class MinLSTM(MinRNNBase):
    """minLSTM: f, i = σ(W x + b), h̃ = g(W_h x + b_h), h_t = f' ⊙ h_{t-1} + i' ⊙ h̃.

    f' = f / (f + i), i' = i / (f + i). Returns ``(output, h_n)``: there is no cell state.
    """

    def __init__(self, input_size: int, hidden_size: int, *args, **kwargs) -> None:
        super().__init__(MIN_LSTM, input_size, hidden_size, *args, **kwargs)
