"""One call per recurrent stack: what a layer hands the engine, checked once, and the plan.

A layer's forward is one ``run_stack(spec, weights, input, hx, lengths, noise)``. The call is
checked once, before any work (input, lengths and initial states: every error says what was
expected and what came); then each backend of the plan (``plan()``), in order, is asked
whether it ``accepts`` the call, and the first that does ``run``s it. A backend that finds out
late that it cannot run the call declines by raising ``NotImplementedError``; the next one
then takes it. The plan today (engine/paths.py):

1. ``TorchKernel``: torch's own LSTM kernel where "auto" measured it faster (float32 LSTM, plain
   padded batch, ``backends.hands_lstm_to_torch``);
2. ``NativeStack``: autograd off, a plain padded batch: the whole stack in one C++ call;
3. ``LayerByLayer``: everything else, one scan per layer-direction on the packed layout, each
   with the backend ``set_backend`` selects (native sweeps, fused, reference; minimal cells:
   parallel scan or step loop).

``engine_path()`` names the engine that ran the latest call. A backend measured per machine, or
a CUDA path, is one more entry of the plan.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from contextlib import nullcontext
from typing import NamedTuple, Protocol

import torch
import torch.nn.functional as F
from torch import Tensor
from torch.nn.utils.rnn import PackedSequence

from ..cells.base import CellMath
from ..cells.minimal import MinCell
from ..errors import RnnkitError
from . import precision
from .autotune import pow2
from .backends import get_backend
from .checks import check_states
from .noise import NO_STACK_NOISE, StackNoise
from .sequences import CheckedInput, check_input
from .weights import LayerWeights

__all__ = [
    "Backend",
    "StackCall",
    "StackSpec",
    "StackWeightsSource",
    "bucket_key",
    "plan",
    "run_plan",
    "run_stack",
    "stack_output",
    "stack_states",
    "through_layers",
    "whole_stack",
]


class StackSpec(NamedTuple):
    """The fixed shape of a stack: which cell, how wide, how deep, which way round. Make one
    with ``StackSpec.make``, which fills in the derived fields; a layer keeps it between calls."""

    owner: str  # the layer's class name, for messages
    cell: CellMath | MinCell
    input_size: int
    hidden_size: int
    proj_size: int
    num_layers: int
    num_directions: int
    batch_first: bool
    bias: bool  # the layer has bias_ih / bias_hh
    min_mode: str  # minimal cells: "auto", "scan" or "sequential"
    scan_chunk: int | None  # minimal cells: steps per parallel scan
    LD: int  # derived: layers x directions
    state_widths: tuple[int, ...]  # derived: h's width P, then the extra states' H
    autocast_lowers: bool  # under autocast, outputs in its dtype (torch.nn's LSTM and RNN)

    @classmethod
    def make(
        cls,
        owner: str,
        cell: CellMath | MinCell,
        input_size: int,
        hidden_size: int,
        proj_size: int = 0,
        num_layers: int = 1,
        num_directions: int = 1,
        batch_first: bool = False,
        bias: bool = True,
        min_mode: str = "auto",
        scan_chunk: int | None = 64,
        autocast_lowers: bool = False,
    ) -> StackSpec:
        widths = (proj_size or hidden_size,) + (hidden_size,) * cell.extra_states
        return cls(
            owner, cell, input_size, hidden_size, proj_size, num_layers, num_directions,
            batch_first, bias, min_mode, scan_chunk, num_layers * num_directions, widths,
            autocast_lowers,
        )  # fmt: skip

    @property
    def out_size(self) -> int:
        """P: the width of h (proj_size, or hidden_size)."""
        return self.state_widths[0]


class StackWeightsSource(Protocol):
    """What the engine reads of a layer's parameters."""

    def layer_weights(self, k: int) -> tuple[LayerWeights, tuple[Tensor | None, ...]]:
        """The weights and cell parameters of layer-direction k = layer * D + direction."""
        ...

    def weights_key(self) -> object | None:
        """Equal keys mean the same weight tensors (so derived forms may be kept); None where
        the weights are derived anew on every call (IndRNN's clipping)."""
        ...

    @property
    def _flat_weights(self) -> list[Tensor]:
        """Every parameter in torch.nn's order (what torch's own kernels take)."""
        ...


class StackCall(NamedTuple):
    """One checked call: the stack, its weights, the input and states as they came."""

    spec: StackSpec
    weights: StackWeightsSource
    input: Tensor | PackedSequence  # as the user passed it
    checked: CheckedInput
    states: tuple[Tensor, ...] | None  # (L*D, B, width) each, user's batch order; None = zeros
    noise: StackNoise
    grad: bool  # autograd is recording
    # the big GEMMs' dtype under autocast (precision.py; None: the weights' own), for the traced
    # path, which cannot read precision.gemm_dtype()'s context variable
    gemm: torch.dtype | None = None


class Backend(Protocol):
    """One way to run a whole stack."""

    name: str

    def accepts(self, call: StackCall) -> bool:
        """Whether this backend runs ``call`` (cheap: no work done)."""
        ...

    def run(self, call: StackCall) -> tuple:
        """``(output, h_n)`` or ``(output, (h_n, *extra_n))`` as torch.nn returns them; may
        raise ``NotImplementedError`` to decline, before any state is touched."""
        ...


_plan: Sequence[Backend] = ()  # set by engine/paths.py when it is imported


def plan() -> Sequence[Backend]:
    """The backends tried for every stack call, in order."""
    return _plan


def _plain_call(
    spec, weights, input, hx, lengths, noise, weight, grad, gemm=None
) -> StackCall | None:
    """The call where it is a well-formed batched tensor without lengths, with well-formed
    states or none (a streaming call: a few microseconds count), else None: then the full
    checks run and explain what is wrong. Accepts nothing that they would refuse."""
    if lengths is not None or not isinstance(input, Tensor) or input.dim() != 3:
        return None
    if input.dtype != weight.dtype or input.device != weight.device:
        return None
    x = input.transpose(0, 1) if spec.batch_first else input
    T, B, I = x.shape
    if T == 0 or spec.input_size != I:
        return None
    widths = spec.state_widths
    if hx is None:
        states = None
    else:
        if len(widths) == 1:  # h_0 alone, a tensor (a 1-tuple is refused by the full checks)
            states = (hx,) if isinstance(hx, Tensor) else None
        else:
            states = hx if type(hx) is tuple and len(hx) == len(widths) else None
        if states is None:
            return None
        for s, width in zip(states, widths):
            if (
                not isinstance(s, Tensor)
                or s.dtype != weight.dtype
                or s.device != weight.device
                or s.shape != (spec.LD, B, width)
            ):
                return None
    checked = tuple.__new__(CheckedInput, (x, None, None, B, T, spec.batch_first, False))
    return tuple.__new__(StackCall, (spec, weights, input, checked, states, noise, grad, gemm))


def run_stack(
    spec: StackSpec,
    weights: StackWeightsSource,
    input: Tensor | PackedSequence,
    hx: object,
    lengths: object,
    noise: StackNoise,
    weight: Tensor,
    grad: bool,
    gemm: torch.dtype | None = None,
) -> tuple:
    """Check the call once (input, lengths and states against the stack and ``weight``'s dtype
    and device: TypeError / ValueError naming what was expected, before any work), then run it
    on the first backend of the plan that takes it. ``gemm``: autocast's lowering of the big
    GEMMs (set by the autocast path below; the eager backends read it from precision.py)."""
    if torch.jit.is_tracing() and get_backend() != "reference":
        raise RnnkitError(
            f"{spec.owner} cannot be traced by torch.jit.trace or torch.onnx.export(dynamo=False): "
            "its native loops would be frozen into the trace as constants. Use torch.export / "
            "torch.compile (rnnkit's operators are registered), or trace inside "
            'rnnkit.use_backend("reference") (a Python loop, its time length fixed)'
        )
    if torch.is_autocast_enabled(weight.device.type):
        return _run_autocast(spec, weights, input, hx, lengths, noise, weight, grad)
    call = _plain_call(spec, weights, input, hx, lengths, noise, weight, grad, gemm)
    if call is None:  # the full checks, which explain what is wrong
        checked = check_input(spec.owner, input, lengths, spec.input_size, spec.batch_first, weight)
        states = check_states(
            spec.owner, hx, spec.state_widths, spec.LD, checked.B, checked.unbatched, weight
        )
        call = StackCall(spec, weights, input, checked, states, noise, grad, gemm)
    return run_plan(_plan, call)


def run_plan(backends: Sequence[Backend], call: StackCall) -> tuple:
    """Run ``call`` on the first of ``backends`` that takes it (the last takes every call: its
    NotImplementedError reaches the user)."""
    for backend in backends[:-1]:
        if backend.accepts(call):
            try:
                return backend.run(call)
            except NotImplementedError:
                continue
    return backends[-1].run(call)


def _to(value: object, dtype: torch.dtype) -> object:
    """A tensor, PackedSequence or tuple of tensors in ``dtype`` (anything else as it is)."""
    if isinstance(value, PackedSequence):  # it has no dtype of its own: its data's
        return value if value.data.dtype == dtype else value.to(dtype)
    if isinstance(value, Tensor):
        return value if value.dtype == dtype else value.to(dtype)
    if isinstance(value, (tuple, list)):
        return tuple(_to(v, dtype) for v in value)
    return value


def _run_autocast(spec, weights, input, hx, lengths, noise, weight, grad) -> tuple:
    """A call under autocast: the recurrence and its state in the weights' dtype (autocast off
    inside), the big GEMMs in bfloat16 where the CPU has it (precision.py; traced, the call
    carries the lowering to the operators: StackCall.gemm), the outputs in the dtype torch.nn
    returns: autocast's (LSTM, RNN) or the input's."""
    device = weight.device.type
    data = input.data if isinstance(input, PackedSequence) else input
    if not isinstance(data, Tensor):  # the checks say what is wrong
        with torch.autocast(device, enabled=False):
            return run_stack(spec, weights, input, hx, lengths, noise, weight, grad)
    # torch.nn's LSTM / RNN return autocast's dtype for a padded tensor, the input's when packed
    lowers = spec.autocast_lowers and isinstance(input, Tensor)
    out_dtype = torch.get_autocast_dtype(device) if lowers else data.dtype
    # bfloat16 if native, for float32 weights (autocast leaves float64 alone); traced by
    # torch.compile / torch.export, the call carries it (dynamo does not trace the context
    # variable, and the CPU's flags come from a file: precision.traced_lowering)
    gemm = None
    if weight.dtype == torch.float32:
        lowers = precision.traced_lowering if torch.compiler.is_compiling() else precision.lowers_to
        gemm = lowers(device, torch.get_autocast_dtype(device))
    lowering = nullcontext() if torch.compiler.is_compiling() else precision.lowered_gemms(gemm)
    with torch.autocast(device, enabled=False), lowering:
        input, hx = _to(input, weight.dtype), _to(hx, weight.dtype)
        output, states = run_stack(spec, weights, input, hx, lengths, noise, weight, grad, gemm)
    return _to(output, out_dtype), _to(states, out_dtype)


def through_layers(
    spec: StackSpec,
    noise: StackNoise,
    rows: Tensor,
    n_states: int,
    layer_direction: Callable[[int, Tensor, bool], Sequence[Tensor]],
    before_layer: Callable[[Tensor], Tensor] | None = None,
) -> tuple[Tensor, tuple[Tensor, ...]]:
    """The stack's loop over layers and directions, whatever lays the rows out: each
    layer-direction k = layer·D + direction by ``layer_direction(k, rows, reverse)`` -> (y,
    *its n_states final states), the directions side by side, ``before_layer`` on each layer's
    input, dropout between layers. Returns the last layer's rows and the final states stacked
    (L·D, ...) each."""
    D = spec.num_directions
    finals: list[list[Tensor]] = [[] for _ in range(n_states)]
    for layer in range(spec.num_layers):
        if before_layer is not None:
            rows = before_layer(rows)
        outs = []
        for direction in range(D):
            y, *ends = layer_direction(layer * D + direction, rows, direction == 1)
            outs.append(y)
            for bucket, end in zip(finals, ends):
                bucket.append(end)
        rows = outs[0] if D == 1 else torch.cat(outs, dim=1)
        if noise.between_layers(spec.num_layers) and layer < spec.num_layers - 1:
            rows = F.dropout(rows, noise.dropout, training=True)
    return rows, tuple(torch.stack(b) for b in finals)


def bucket_key(
    spec: StackSpec, dtype: torch.dtype, grad: bool, B: int | None, T: int | None
) -> str:
    """The measured plan's key of a call (autotune.py): what its speed depends on, B and T
    rounded up to a power of 2; left out where None (torch.compile's choice for every B and T,
    ``autotune.prevailing``)."""
    gemm = precision.gemm_dtype()
    return "|".join((
        spec.cell.name, f"L{spec.num_layers}", f"D{spec.num_directions}", f"P{spec.proj_size}",
        f"bias{int(spec.bias)}", f"I{spec.input_size}", f"H{spec.hidden_size}",
        *((f"B{pow2(B)}",) if B is not None else ()), *((f"T{pow2(T)}",) if T is not None else ()),
        str(dtype).removeprefix("torch."), "train" if grad else "infer",
        f"threads{torch.get_num_threads()}",
        *((f"gemm_{str(gemm).removeprefix('torch.')}",) if gemm else ()),
    ))  # fmt: skip


def stack_states(call: StackCall) -> tuple[Tensor | None, Tensor | None]:
    """(h0, c0) of a call for a whole-stack path, (L·D, B, width) each; None for zeros."""
    return (*call.states, None)[:2] if call.states is not None else (None, None)


def stack_output(call: StackCall, y: Tensor, h_n: Tensor, c_n: Tensor | None) -> tuple:
    """A whole-stack path's y (T, B, D·P), h_n, c_n (None without c) as the layer returns
    them: unbatched squeezed, batch_first transposed, (h_n, c_n) for the LSTM family."""
    if call.checked.unbatched:
        y, h_n = y.squeeze(1), h_n.squeeze(1)
        c_n = None if c_n is None else c_n.squeeze(1)
    elif call.spec.batch_first:
        y = y.transpose(0, 1)
    return y, (h_n if c_n is None else (h_n, c_n))


def whole_stack(call: StackCall) -> bool:
    """Whether one call can run the whole stack at once, nothing saved: autograd off, a padded
    batch without lengths, nothing random inside the recurrence or between the layers."""
    c, noise = call.checked, call.noise
    return (
        not call.grad
        and c.x is not None
        and c.lengths is None
        and (
            noise is NO_STACK_NOISE  # (evaluation mode: what a streaming call has, no lookups)
            or not (noise.per_sequence() or noise.between_layers(call.spec.num_layers))
        )
    )
