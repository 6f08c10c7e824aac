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

from ..cells import LSTM as LSTM_CELL
from ..cells.base import CellMath
from ..engine import LayerWeights, scan
from ..engine.backends import hands_lstm_to_torch, infer_stack, torch_lstm
from ..engine.native import StackWeights
from ..engine.noise import NO_NOISE, StepNoise
from .checks import check_dtype_device, check_shape, unpack_hx
from .sequences import SeqBatch, prepare_sequences

__all__ = ["RNNBase"]


def _check_size(owner: str, name: str, value: object, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{owner} expected {name} to be an int, got {type(value).__name__}")
    if value < minimum:
        raise ValueError(f"{owner} expected {name} >= {minimum}, got {value}")
    return int(value)


def _check_init_options(
    owner: str, cell: CellMath, forget_bias: float | None, recurrent_init: str
) -> None:
    if forget_bias is not None and cell.forget_gate is None:
        raise ValueError(
            f"{owner} has no forget gate; expected forget_bias=None, got {forget_bias}"
        )
    allowed = ("uniform", "identity") if cell.diagonal_hidden else RECURRENT_INITS
    if recurrent_init not in allowed:
        raise ValueError(
            f"{owner} expected recurrent_init in {', '.join(allowed)}, got {recurrent_init!r}"
        )


def _check_chrono(
    owner: str, cell: CellMath, chrono_init: object, forget_bias: float | None, bias: bool
) -> None:
    if chrono_init is None:
        return
    if cell.forget_gate is None:
        raise ValueError(
            f"{owner} has no forget gate; expected chrono_init=None, got {chrono_init}"
        )
    if isinstance(chrono_init, bool) or not isinstance(chrono_init, numbers.Integral):
        raise TypeError(f"{owner} expected chrono_init to be an int (T_max), got {chrono_init!r}")
    if chrono_init < 3:
        raise ValueError(f"{owner} expected chrono_init (T_max) >= 3, got {chrono_init}")
    if forget_bias is not None:
        raise ValueError(
            f"{owner} got forget_bias={forget_bias} and chrono_init={chrono_init}; chrono "
            "initialization sets the forget-gate bias itself: pass one of them"
        )
    if not bias:
        raise ValueError(f"{owner} with bias=False has no gate biases for chrono_init")


def _init_recurrent(W_hh: Tensor, how: str, H: int) -> None:
    """Re-initialize W_hh (G, P) per H-row gate block: orthogonal or identity; or keep uniform."""
    if how == "uniform":
        return
    if W_hh.dim() == 1:  # diagonal recurrence: identity means w_hh = 1
        W_hh.fill_(1.0)
        return
    for block in W_hh.split(H, dim=0):
        if how == "orthogonal":
            nn.init.orthogonal_(block)
        else:
            nn.init.eye_(block)


RECURRENT_INITS = ("uniform", "orthogonal", "identity")


class RNNBase(nn.Module):
    """A multi-layer, optionally bidirectional recurrent layer running ``cell`` on the engine.

    Subclasses fix ``mode`` (torch's name: 'RNN_TANH', 'RNN_RELU', 'LSTM', 'GRU') and the cell.
    Keyword-only options beyond torch.nn, for every layer: ``forget_bias`` (LSTM family),
    ``chrono_init`` (LSTM family: T_max, the chrono initialization of Tallec & Ollivier 2018,
    b_f ~ log U(1, T_max - 1) and b_i = -b_f, for dependencies up to about T_max steps),
    ``recurrent_init`` ('uniform', 'orthogonal', 'identity'), ``zoneout`` (rate for h, or
    (h, c) rates; Krueger et al. 2016), ``recurrent_dropout`` (one mask per sequence on h_{t-1}
    in the hidden projection; Gal & Ghahramani 2016) and ``input_dropout`` (one mask per
    sequence on each layer's input). The random ones act in training mode only; zoneout in
    eval mode uses its expectation.
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
        *,
        forget_bias: float | None = None,
        chrono_init: int | None = None,
        recurrent_init: str = "uniform",
        zoneout: float | tuple[float, float] = 0.0,
        recurrent_dropout: float = 0.0,
        input_dropout: float = 0.0,
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
        _check_init_options(owner, cell, forget_bias, recurrent_init)
        _check_chrono(owner, cell, chrono_init, forget_bias, self.bias)
        zh, zc = zoneout if isinstance(zoneout, tuple) else (zoneout, zoneout)
        rates = {"zoneout": (zh, zc), "recurrent_dropout": (recurrent_dropout,)}
        rates["input_dropout"] = (input_dropout,)
        for name, rate in ((n, r) for n, rs in rates.items() for r in rs):
            if not isinstance(rate, (int, float)) or not 0 <= rate < 1:
                raise ValueError(f"{owner} expected {name} in [0, 1), got {rate!r}")
        self.zoneout, self.recurrent_dropout = (float(zh), float(zc)), float(recurrent_dropout)
        self.input_dropout = float(input_dropout)
        self.forget_bias, self.recurrent_init = forget_bias, recurrent_init
        self.chrono_init = chrono_init
        self._flat_weights_names: list[str] = []
        self._all_weights: list[list[str]] = []
        self._roles: list[dict[str, str]] = []  # per layer-direction: role -> parameter name
        self._make_parameters(cell.gates * hidden_size, {"device": device, "dtype": dtype})
        self.reset_parameters()

    def _parameter_shapes(self, layer_in: int, G: int) -> dict[str, tuple[int, ...]]:
        """Role -> shape of one layer-direction's parameters, in torch.nn's order."""
        H, P = self.hidden_size, self.proj_size or self.hidden_size
        shapes = {
            "weight_ih": (G, layer_in),
            "weight_hh": (G,) if self.cell.diagonal_hidden else (G, P),
        }
        if self.bias and self.cell.weight_biases:
            shapes |= {"bias_ih": (G,), "bias_hh": (G,)}
        for spec in self.cell.params:
            if self.bias or not spec.is_bias:
                shapes[spec.name] = (spec.size * H,)
        if self.proj_size:
            shapes["weight_hr"] = (self.proj_size, H)
        return shapes

    def _make_parameters(self, G: int, factory: dict) -> None:
        D, P = self.num_directions, self.proj_size or self.hidden_size
        for layer in range(self.num_layers):
            layer_in = self.input_size if layer == 0 else P * D
            for direction in range(D):
                suffix = "_reverse" if direction == 1 else ""
                roles = {}
                for role, shape in self._parameter_shapes(layer_in, G).items():
                    name = f"{role}_l{layer}{suffix}"
                    setattr(self, name, nn.Parameter(torch.empty(shape, **factory)))
                    roles[role] = name
                self._flat_weights_names.extend(roles.values())
                self._all_weights.append(list(roles.values()))
                self._roles.append(roles)

    def reset_parameters(self) -> None:
        """torch.nn's init (every parameter uniform in ±1/sqrt(hidden_size), in order), then the
        cell's own parameters as their spec says, ``forget_bias`` and ``recurrent_init``."""
        stdv = 1.0 / math.sqrt(self.hidden_size)
        for weight in self.parameters():
            nn.init.uniform_(weight, -stdv, stdv)
        H, fill = self.hidden_size, {"ones": 1.0, "zeros": 0.0}
        with torch.no_grad():
            for roles in self._roles:
                for spec in self.cell.params:
                    if spec.name in roles and spec.init in fill:
                        getattr(self, roles[spec.name]).fill_(fill[spec.init])
                _init_recurrent(getattr(self, roles["weight_hh"]), self.recurrent_init, H)
                if self.forget_bias is not None:  # b_f = forget_bias (the b_ih + b_hh sum)
                    self._set_gate_bias(roles, self.cell.forget_gate, self.forget_bias)
                if self.chrono_init is not None:  # b_f ~ log U(1, T_max - 1), b_i = -b_f
                    b_f = torch.empty(H).uniform_(1.0, self.chrono_init - 1.0).log_()
                    self._set_gate_bias(roles, self.cell.forget_gate, b_f)
                    self._set_gate_bias(roles, 0, -b_f)  # the LSTM family's gates: (i, f, g, o)

    def _set_gate_bias(self, roles: dict[str, str], gate: int, value: float | Tensor) -> None:
        """The bias of gate block ``gate`` (the b_ih + b_hh sum) := value: in b_ih (the layer-norm
        cells: the input norm's bias), b_hh's block zeroed."""
        H = self.hidden_size
        block = slice(gate * H, (gate + 1) * H)
        first = "bias_ih" if "bias_ih" in roles else "ln_ih_bias"
        if first in roles:
            getattr(self, roles[first])[block] = value
        if "bias_hh" in roles:
            getattr(self, roles["bias_hh"])[block] = 0.0

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

    def _layer_weights(self, k: int) -> tuple[LayerWeights, tuple[Tensor | None, ...]]:
        """The weights and cell parameters of layer-direction ``k`` = layer * D + direction."""
        roles = self._roles[k]

        def get(role: str) -> Tensor | None:
            return getattr(self, roles[role]) if role in roles else None

        w = LayerWeights(
            get("weight_ih"), get("weight_hh"), get("bias_ih"), get("bias_hh"), get("weight_hr")
        )
        return w, tuple(get(spec.name) for spec in self.cell.params)

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
        if lengths is None and isinstance(input, Tensor):
            fast = self._torch_lstm(input, hx)
            if fast is None and not torch.is_grad_enabled():
                fast = self._infer_fast(input, hx)
            if fast is not None:
                return fast
        owner = type(self).__name__
        weight = self.weight_ih_l0
        seq = prepare_sequences(owner, input, lengths, self.input_size, self.batch_first, weight)
        states0 = self._initial_states(hx, seq, weight)
        x, D = seq.data, self.num_directions
        finals: list[list[Tensor]] = [[] for _ in states0]
        for layer in range(self.num_layers):
            if self.input_dropout and self.training:  # one mask per sequence, all steps
                x = x * self._sequence_mask(x, seq, self.input_dropout)
            outs = []
            for direction in range(D):
                k = layer * D + direction
                w, params = self._layer_weights(k)
                extra0 = tuple(s[k] for s in states0[1:])
                noise = self._step_noise(seq, states0)
                y, h_n, extra_n = scan(
                    self.cell, seq.layout, direction == 1, x, w, states0[0][k], extra0, params,
                    noise,
                )  # fmt: skip
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

    def _torch_lstm(self, input: Tensor, hx: object) -> tuple | None:
        """The stack on torch's own LSTM kernel where the engine says it is faster
        (``backends.hands_lstm_to_torch``), or None. Batched padded input, well-formed states,
        no zoneout or per-sequence dropout (torch's kernel has inter-layer dropout only)."""
        if self.cell is not LSTM_CELL or input.dim() != 3 or self._per_sequence_noise():
            return None
        weight = self.weight_ih_l0
        if input.shape[-1] != self.input_size or input.dtype != weight.dtype:
            return None
        B = input.shape[0] if self.batch_first else input.shape[1]
        grad = torch.is_grad_enabled()
        if 0 in input.shape[:2] or not hands_lstm_to_torch(
            self.cell, B, self.hidden_size, input, grad
        ):
            return None
        states = self._fast_states(hx, B, False, weight)
        if states is None or input.device != weight.device:
            return None
        h0, c0 = states
        if h0 is None:
            LD = self.num_layers * self.num_directions
            h0 = input.new_zeros(LD, B, self.proj_size or self.hidden_size)
            c0 = input.new_zeros(LD, B, self.hidden_size)
        dropout = self.dropout if self.num_layers > 1 else 0.0
        y, h_n, c_n = torch_lstm(
            input, (h0, c0), self._flat_weights, has_biases=self.bias, dropout=dropout,
            num_layers=self.num_layers, train=self.training, bidirectional=self.bidirectional,
            batch_first=self.batch_first,
        )  # fmt: skip
        return y, (h_n, c_n)

    def _per_sequence_noise(self) -> bool:
        """Zoneout (any mode), or recurrent / input dropout in training mode."""
        (zh, zc), training = self.zoneout, self.training
        return bool(zh or zc or (training and (self.recurrent_dropout or self.input_dropout)))

    def _infer_fast(self, input: Tensor, hx: object) -> tuple | None:
        """The no-grad forward of a plain padded batch in one native call (engine.infer_stack),
        or None where it does not apply: then the general path runs, with its full checks and
        errors. It applies to cells the native engine runs, without zoneout and, in training
        mode, without dropout of any kind; input and states must already be well-formed."""
        if self._per_sequence_noise() or (self.training and self.dropout and self.num_layers > 1):
            return None
        weight = self._parameters["weight_ih_l0"]
        if (
            input.dim() not in (2, 3)
            or input.shape[-1] != self.input_size
            or input.dtype != weight.dtype
            or not (input.is_cpu and weight.is_cpu)  # the native loops run on CPU only
        ):
            return None
        unbatched = input.dim() == 2
        x = (
            input.unsqueeze(1)
            if unbatched
            else (input.transpose(0, 1) if self.batch_first else input)
        )
        T, B = x.shape[0], x.shape[1]
        states = self._fast_states(hx, B, unbatched, weight)
        if T == 0 or B == 0 or states is None:
            return None
        layers = self._infer_layers()
        out = infer_stack(self.cell, x, T, layers, self.num_directions, *states)
        if out is None:
            return None
        y, h_n, c_n = out  # y (T, B, D*P)
        if unbatched:
            y, h_n = y.squeeze(1), h_n.squeeze(1)
            c_n = None if c_n is None else c_n.squeeze(1)
        elif self.batch_first:
            y = y.transpose(0, 1)
        return y, (h_n if c_n is None else (h_n, c_n))

    def _infer_layers(self) -> list[tuple[LayerWeights, tuple[Tensor | None, ...]]]:
        """``_layer_weights(k)`` of every layer-direction, kept while the module holds the same
        parameter objects (in-place updates, ``load_state_dict``, ``.to()`` keep them; a new
        parameter set on the module does not). Not kept where a subclass derives weights per
        call (IndRNN's clipping)."""
        LD = self.num_layers * self.num_directions
        if type(self)._layer_weights is not RNNBase._layer_weights:
            return [self._layer_weights(k) for k in range(LD)]
        key = tuple(map(id, self._parameters.values()))
        cached = self.__dict__.get("_infer_cache")
        if cached is None or cached[0] != key:
            cached = (key, StackWeights(self._layer_weights(k) for k in range(LD)))
            self.__dict__["_infer_cache"] = cached
        return cached[1]

    def _fast_states(
        self, hx: object, B: int, unbatched: bool, weight: Tensor
    ) -> tuple[Tensor | None, Tensor | None] | None:
        """(h_0, c_0) as (L*D, B, .) for the fast path (None, None for zeros); None where hx is
        anything but well-formed states (the general path then reports it)."""
        n_states = 1 + self.cell.extra_states
        if hx is None:
            return (None, None) if n_states <= 2 else None
        states = (hx,) if isinstance(hx, Tensor) else hx
        if not isinstance(states, tuple) or len(states) != n_states or n_states > 2:
            return None
        LD = self.num_layers * self.num_directions
        widths = (self.proj_size or self.hidden_size, self.hidden_size)
        out = []
        for s, width in zip(states, widths):
            shape = (LD, width) if unbatched else (LD, B, width)
            if (
                not isinstance(s, Tensor)
                or tuple(s.shape) != shape
                or s.dtype != weight.dtype
                or s.device != weight.device
            ):
                return None
            out.append(s.unsqueeze(1) if unbatched else s)
        return out[0], (out[1] if n_states == 2 else None)

    def _sequence_mask(self, x: Tensor, seq: SeqBatch, p: float) -> Tensor:
        """(N, F) rows of a dropout mask drawn once per sequence (B, F), scaled by 1 / (1 - p)."""
        mask = torch.bernoulli(x.new_full((seq.B, x.shape[1]), 1 - p)) / (1 - p)
        return mask[seq.layout.batch_index()]

    def _step_noise(self, seq: SeqBatch, states0: tuple[Tensor, ...]) -> StepNoise:
        """Recurrent-dropout and zoneout masks for one layer-direction (none if unused)."""
        (zh, zc), p = self.zoneout, self.recurrent_dropout
        if not (zh or zc or p):
            return NO_NOISE
        h0 = states0[0][0]
        rec_mask = None
        if p and self.training:
            rec_mask = torch.bernoulli(h0.new_full(h0.shape, 1 - p)) / (1 - p)
        if not (zh or zc):
            return StepNoise(rec_mask)
        if not self.training:  # the expectation of zoneout: a constant weight on the old value
            return StepNoise(rec_mask, zh, tuple(zc for _ in states0[1:]))
        N = seq.layout.N

        def zone(rate: float, like: Tensor) -> Tensor:
            return torch.bernoulli(like.new_full((N, like.shape[-1]), rate))

        return StepNoise(rec_mask, zone(zh, h0), tuple(zone(zc, s[0]) for s in states0[1:]))

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
