"""``RNNBase``: stacking, bidirectionality, states and parameters shared by RNN, LSTM and GRU.

Parameters are created in torch.nn's order, with its names and shapes and its initialization
(uniform in ±1/sqrt(hidden_size), drawn in ``parameters()`` order), so a ``state_dict`` moves
between ``torch.nn.LSTM`` and ``rnnkit.LSTM`` unchanged, and the same seed gives the same weights.
"""

from __future__ import annotations

import math
import numbers
import warnings

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.nn.utils.rnn import PackedSequence

from ..cells.base import CellMath
from ..engine import LayerWeights, scan
from .checks import check_dtype_device, check_shape, unpack_hx
from .sequences import SeqBatch, prepare_sequences

__all__ = ["RNNBase"]


def _check_size(owner: str, name: str, value: object, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{owner} expected {name} to be an int, got {type(value).__name__}")
    if value < minimum:
        raise ValueError(f"{owner} expected {name} >= {minimum}, got {value}")
    return int(value)


class RNNBase(nn.Module):
    """A multi-layer, optionally bidirectional recurrent layer running ``cell`` on the engine.

    Subclasses fix ``mode`` (torch's name: 'RNN_TANH', 'RNN_RELU', 'LSTM', 'GRU') and the cell.
    Forward takes input (T, B, I), (B, T, I) with ``batch_first``, unbatched (T, I), or a
    PackedSequence; optional initial state; optional ``lengths`` (B,) for padded input.
    """

    cell: CellMath

    def __init__(
        self,
        mode: str,
        cell: CellMath,
        input_size: int,
        hidden_size: int,
        num_layers: int = 1,
        bias: bool = True,
        batch_first: bool = False,
        dropout: float = 0.0,
        bidirectional: bool = False,
        proj_size: int = 0,
        device: torch.device | str | None = None,
        dtype: torch.dtype | None = None,
    ) -> None:
        super().__init__()
        owner = type(self).__name__
        self.mode = mode
        self.cell = cell
        self.input_size = _check_size(owner, "input_size", input_size, 0)
        self.hidden_size = _check_size(owner, "hidden_size", hidden_size, 1)
        self.num_layers = _check_size(owner, "num_layers", num_layers, 1)
        self.proj_size = _check_size(owner, "proj_size", proj_size, 0)
        self.bias = bool(bias)
        self.batch_first = bool(batch_first)
        self.bidirectional = bool(bidirectional)
        if (
            not isinstance(dropout, numbers.Number)
            or isinstance(dropout, bool)
            or not 0 <= dropout <= 1
        ):
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
        if proj_size and not cell.supports_projection:
            raise ValueError(f"{owner} has no projection; expected proj_size=0, got {proj_size}")
        if proj_size >= hidden_size:
            raise ValueError(
                f"{owner} expected proj_size < hidden_size, got proj_size={proj_size} "
                f">= hidden_size={hidden_size}"
            )
        self._flat_weights_names: list[str] = []
        self._all_weights: list[list[str]] = []
        self._make_parameters(cell.gates * hidden_size, {"device": device, "dtype": dtype})
        self.reset_parameters()

    def _make_parameters(self, G: int, factory: dict) -> None:
        D, H, P = self.num_directions, self.hidden_size, self.proj_size or self.hidden_size
        for layer in range(self.num_layers):
            layer_in = self.input_size if layer == 0 else P * D
            for direction in range(D):
                suffix = "_reverse" if direction == 1 else ""
                shapes = {"weight_ih": (G, layer_in), "weight_hh": (G, P)}
                if self.bias:
                    shapes |= {"bias_ih": (G,), "bias_hh": (G,)}
                if self.proj_size:
                    shapes["weight_hr"] = (self.proj_size, H)
                names = []
                for kind, shape in shapes.items():
                    name = f"{kind}_l{layer}{suffix}"
                    setattr(self, name, nn.Parameter(torch.empty(shape, **factory)))
                    names.append(name)
                self._flat_weights_names.extend(names)
                self._all_weights.append(names)

    def reset_parameters(self) -> None:
        """torch.nn's init: every parameter uniform in ±1/sqrt(hidden_size)."""
        stdv = 1.0 / math.sqrt(self.hidden_size)
        for weight in self.parameters():
            nn.init.uniform_(weight, -stdv, stdv)

    @property
    def num_directions(self) -> int:
        return 2 if self.bidirectional else 1

    @property
    def _flat_weights(self) -> list[Tensor]:
        return [getattr(self, name) for name in self._flat_weights_names]

    @property
    def all_weights(self) -> list[list[nn.Parameter]]:
        """Parameters per layer-direction, as torch.nn's ``all_weights``."""
        return [[getattr(self, name) for name in names] for names in self._all_weights]

    def flatten_parameters(self) -> None:
        """No-op, for drop-in compatibility: the engine needs no flat (cuDNN) weight buffer."""

    def _layer_weights(self, k: int) -> LayerWeights:
        """The weights of layer-direction ``k`` = layer * num_directions + direction."""
        params = dict(zip(("W_ih", "W_hh"), self.all_weights[k]))
        rest = self.all_weights[k][2:]
        if self.bias:
            params["b_ih"], params["b_hh"], rest = rest[0], rest[1], rest[2:]
        if self.proj_size:
            params["W_hr"] = rest[0]
        return LayerWeights(**params)

    def _initial_states(self, hx: object, seq: SeqBatch, weight: Tensor) -> tuple[Tensor, ...]:
        """(h_0, *extra_0) each (L*D, B, .) in sorted batch order; zeros where hx is None."""
        owner = type(self).__name__
        n_states = 1 + self.cell.extra_states
        states = unpack_hx(owner, hx, n_states)
        LD, B = self.num_layers * self.num_directions, seq.B
        widths = (self.proj_size or self.hidden_size,) + (self.hidden_size,) * (n_states - 1)
        if states is None:
            return tuple(weight.new_zeros(LD, B, w) for w in widths)
        names = ("h_0", "c_0", "n_0", "m_0")
        checked = []
        for name, s, width in zip(names, states, widths):
            check_dtype_device(owner, name, s, weight)
            if seq.unbatched:
                check_shape(owner, name, s, (LD, width), "(num_layers * num_directions, H)")
                s = s.unsqueeze(1)
            else:
                note = "(num_layers * num_directions, B, H)"
                check_shape(owner, name, s, (LD, B, width), note)
            checked.append(seq.sort_state(s))
        return tuple(checked)

    def forward(
        self,
        input: Tensor | PackedSequence,
        hx: Tensor | tuple[Tensor, ...] | None = None,
        lengths: Tensor | None = None,
    ):
        """Run the stack; returns ``(output, h_n)`` or ``(output, (h_n, c_n))`` like torch.nn.

        ``input``: (T, B, I), (B, T, I) with batch_first, (T, I) unbatched, or a PackedSequence.
        ``hx``: h_0 (L*D, B, P) [and c_0 (L*D, B, H)], or None for zeros.
        ``lengths``: optional (B,) integers in [1, T]: steps past a sequence's length are not
        computed, their outputs are zero, and h_n is taken at each sequence's last valid step.
        ``output``: (T, B, D*P) (or batch-first / unbatched / packed like the input).
        """
        owner = type(self).__name__
        weight = self.weight_ih_l0
        seq = prepare_sequences(owner, input, lengths, self.input_size, self.batch_first, weight)
        states0 = self._initial_states(hx, seq, weight)
        x, D = seq.data, self.num_directions
        finals: list[list[Tensor]] = [[] for _ in states0]
        for layer in range(self.num_layers):
            outs = []
            for direction in range(D):
                k = layer * D + direction
                y, h_n, extra_n = scan(
                    self.cell,
                    seq.layout,
                    direction == 1,
                    x,
                    self._layer_weights(k),
                    states0[0][k],
                    tuple(s[k] for s in states0[1:]),
                )
                outs.append(y)
                for bucket, state in zip(finals, (h_n, *extra_n)):
                    bucket.append(state)
            x = outs[0] if D == 1 else torch.cat(outs, dim=1)
            if self.dropout and self.training and layer < self.num_layers - 1:
                x = F.dropout(x, self.dropout, training=True)
        output = seq.output(x)
        states = tuple(seq.unsort_state(torch.stack(b)) for b in finals)
        if seq.unbatched:
            states = tuple(s.squeeze(1) for s in states)
        return output, (states[0] if len(states) == 1 else states)

    def extra_repr(self) -> str:
        s = "{input_size}, {hidden_size}"
        if self.proj_size != 0:
            s += ", proj_size={proj_size}"
        if self.num_layers != 1:
            s += ", num_layers={num_layers}"
        if self.bias is not True:
            s += ", bias={bias}"
        if self.batch_first is not False:
            s += ", batch_first={batch_first}"
        if self.dropout != 0:
            s += ", dropout={dropout}"
        if self.bidirectional is not False:
            s += ", bidirectional={bidirectional}"
        return s.format(**self.__dict__)
