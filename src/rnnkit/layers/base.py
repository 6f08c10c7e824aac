"""``RNNBase``: the parameters, options and state of every recurrent stack layer.

Parameters are created in torch.nn's order, with its names and shapes and its initialization
(uniform in ±1/sqrt(hidden_size), drawn in ``parameters()`` order), so a ``state_dict`` moves
between ``torch.nn.LSTM`` and ``rnnkit.LSTM`` unchanged, and the same seed gives the same weights.
The forward is one call into the engine (``rnnkit.engine.run_stack``), which checks the call
and picks the path that runs it.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn
from torch.nn.utils.rnn import PackedSequence

from ..cells.base import CellMath
from ..engine import NO_STACK_NOISE, LayerWeights, StackNoise, StackSpec, run_stack
from .options import (
    check_chrono,
    check_dropout,
    check_init_options,
    check_noise_rates,
    check_size,
    init_recurrent,
)

__all__ = ["RNNBase"]

_AUTOCAST_LOWERS = ("LSTM", "RNN_TANH", "RNN_RELU")  # torch.nn's layers that return autocast's
# dtype under autocast (its GRU returns the input's)
_UNSET: object = object()  # forget_bias not given: the layer's default_forget_bias


class RNNBase(nn.Module):
    """A multi-layer, optionally bidirectional recurrent layer running ``cell`` on the engine.

    Subclasses fix the cell (class attribute ``cell``) and torch's mode string
    (``torch_mode``: 'RNN_TANH', 'RNN_RELU', 'LSTM', 'GRU'); the constructor is written here once.
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

    cell: CellMath  # the cell a subclass runs (a class attribute; Recurrent sets its own)
    torch_mode: str = ""  # torch.nn's mode string, kept as ``self.mode``; default: cell.name
    default_forget_bias: float | None = None  # forget_bias when none is given (with biases)

    def __init__(
        self,
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
        forget_bias: float | None = _UNSET,  # type: ignore[assignment]
        chrono_init: int | None = None,
        recurrent_init: str = "uniform",
        zoneout: float | tuple[float, float] = 0.0,
        recurrent_dropout: float = 0.0,
        input_dropout: float = 0.0,
    ) -> None:
        """torch.nn.RNNBase's constructor without ``mode`` (the subclass's cell fixes it), and
        the options beyond torch.nn, keyword-only. Written once: every layer takes it."""
        super().__init__()
        owner, cell = type(self).__name__, self.cell
        self.mode = self.torch_mode or cell.name
        if forget_bias is _UNSET:
            use_default = bias and chrono_init is None
            forget_bias = self.default_forget_bias if use_default else None
        self.input_size = check_size(owner, "input_size", input_size, 0)
        self.hidden_size = check_size(owner, "hidden_size", hidden_size, 1)
        self.num_layers = check_size(owner, "num_layers", num_layers, 1)
        self.proj_size = check_size(owner, "proj_size", proj_size, 0)
        self.bias = bool(bias)
        self.batch_first = bool(batch_first)
        self.bidirectional = bool(bidirectional)
        self.dropout = check_dropout(owner, dropout, self.num_layers)
        if proj_size and not cell.supports_projection:
            raise ValueError(f"{owner} has no projection; expected proj_size=0, got {proj_size}")
        if proj_size >= hidden_size:
            raise ValueError(
                f"{owner} expected proj_size < hidden_size, got proj_size={proj_size} "
                f">= hidden_size={hidden_size}"
            )
        check_init_options(owner, cell, forget_bias, recurrent_init)
        check_chrono(owner, cell, chrono_init, forget_bias, self.bias)
        rates = check_noise_rates(owner, zoneout, recurrent_dropout, input_dropout)
        self.zoneout, self.recurrent_dropout, self.input_dropout = rates
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
                init_recurrent(getattr(self, roles["weight_hh"]), self.recurrent_init, H)
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

    def layer_weights(self, k: int) -> tuple[LayerWeights, tuple[Tensor | None, ...]]:
        """The weights and cell parameters of layer-direction ``k`` = layer * D + direction."""
        roles, parameters = self._roles[k], self._parameters

        def get(role: str) -> Tensor | None:
            return parameters[roles[role]] if role in roles else None

        w = LayerWeights(
            get("weight_ih"), get("weight_hh"), get("bias_ih"), get("bias_hh"), get("weight_hr")
        )
        return w, tuple(get(spec.name) for spec in self.cell.params)

    def weights_key(self) -> tuple[int, ...] | None:
        """Equal while the module holds the same parameter objects (in-place updates,
        ``load_state_dict`` and ``.to()`` keep them), so the engine may keep what it derives
        from them; None where a subclass derives its weights per call (IndRNN's clipping)."""
        if type(self).layer_weights is not RNNBase.layer_weights:
            return None
        return tuple(map(id, self._parameters.values()))

    def stack_spec(self) -> StackSpec:
        """The engine's description of this stack, kept between calls; made anew where an
        attribute it holds was changed on the module (batch_first, or a one-layer view of it as
        rnnkit.diagnostics makes)."""
        spec = self.__dict__.get("_stack_spec")
        if (
            spec is None
            or spec.batch_first != self.batch_first
            or spec.num_layers != self.num_layers
            or spec.input_size != self.input_size
            or spec.num_directions != (2 if self.bidirectional else 1)
            or spec.cell is not self.cell
        ):
            spec = StackSpec.make(
                type(self).__name__, self.cell, self.input_size, self.hidden_size,
                self.proj_size, self.num_layers, self.num_directions, self.batch_first, self.bias,
                autocast_lowers=self.mode in _AUTOCAST_LOWERS,
            )  # fmt: skip
            self.__dict__["_stack_spec"] = spec
        return spec

    def __getstate__(self) -> dict:
        """The module's state for pickling, without the kept StackSpec (made anew on the next
        call, so a pickled model does not carry the engine's description of this version)."""
        state = super().__getstate__()
        state.pop("_stack_spec", None)
        return state

    def stack_noise(self) -> StackNoise:
        """The dropout and zoneout this call asks for (random ones in training mode only)."""
        if not self.training and self.zoneout == (0.0, 0.0):
            return NO_STACK_NOISE
        return StackNoise(
            self.training, self.dropout, self.zoneout, self.recurrent_dropout, self.input_dropout
        )

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
        weight = self._parameters["weight_ih_l0"]
        grad = torch.is_grad_enabled()
        spec, noise = self.stack_spec(), self.stack_noise()
        return run_stack(spec, self, input, hx, lengths, noise, weight, grad)

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
