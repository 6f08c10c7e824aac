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

from collections.abc import Sequence
from typing import NamedTuple, Protocol

from torch import Tensor
from torch.nn.utils.rnn import PackedSequence

from ..cells.base import CellMath
from ..cells.minimal import MinCell
from .checks import check_states
from .noise import StackNoise
from .sequences import CheckedInput, check_input
from .weights import LayerWeights

__all__ = ["Backend", "StackCall", "StackSpec", "StackWeightsSource", "plan", "run_stack"]


class StackSpec(NamedTuple):
    """The fixed shape of a stack: which cell, how wide, how deep, which way round (a tuple:
    a layer makes one per call, so it must be cheap)."""

    owner: str  # the layer's class name, for messages
    cell: CellMath | MinCell
    input_size: int
    hidden_size: int
    proj_size: int = 0
    num_layers: int = 1
    num_directions: int = 1
    batch_first: bool = False
    bias: bool = True  # the layer has bias_ih / bias_hh
    min_mode: str = "auto"  # minimal cells: "auto", "scan" or "sequential"
    scan_chunk: int | None = 64  # minimal cells: steps per parallel scan

    @property
    def out_size(self) -> int:
        """P: the width of h (proj_size, or hidden_size)."""
        return self.proj_size or self.hidden_size

    @property
    def state_widths(self) -> tuple[int, ...]:
        """The width of each state: h (P), then the extra states (H)."""
        extra = 0 if isinstance(self.cell, MinCell) else self.cell.extra_states
        return (self.out_size,) + (self.hidden_size,) * extra

    @property
    def LD(self) -> int:
        return self.num_layers * self.num_directions


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

    def output(self, y: Tensor, states: tuple[Tensor, ...]) -> tuple:
        """torch.nn's return of a plain padded call from y (T, B, D*P) and states (L*D, B, .)."""
        if self.checked.unbatched:
            y, states = y.squeeze(1), tuple(s.squeeze(1) for s in states)
        elif self.spec.batch_first:
            y = y.transpose(0, 1)
        return y, (states[0] if len(states) == 1 else states)


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


_plan: Sequence[Backend] = ()


def plan() -> Sequence[Backend]:
    """The backends tried for every stack call, in order."""
    global _plan
    if not _plan:
        from .paths import PLAN  # paths.py imports this module

        _plan = PLAN
    return _plan


def check_call(
    spec: StackSpec,
    weights: StackWeightsSource,
    input: Tensor | PackedSequence,
    hx: object,
    lengths: object,
    noise: StackNoise,
    weight: Tensor,
    grad: bool,
) -> StackCall:
    """The call, checked: input, lengths and states against the stack and ``weight``'s dtype
    and device. Raises (TypeError / ValueError naming what was expected) before any work."""
    checked = check_input(spec.owner, input, lengths, spec.input_size, spec.batch_first, weight)
    states = check_states(
        spec.owner, hx, spec.state_widths, spec.LD, checked.B, checked.unbatched, weight
    )
    return StackCall(spec, weights, input, checked, states, noise, grad)


def run_stack(
    spec: StackSpec,
    weights: StackWeightsSource,
    input: Tensor | PackedSequence,
    hx: object,
    lengths: object,
    noise: StackNoise,
    weight: Tensor,
    grad: bool,
) -> tuple:
    """Check the call once, then run it on the first backend of the plan that takes it."""
    call = check_call(spec, weights, input, hx, lengths, noise, weight, grad)
    *fast, last = plan()
    for backend in fast:
        if backend.accepts(call):
            try:
                return backend.run(call)
            except NotImplementedError:
                continue
    return last.run(call)  # takes every call; its NotImplementedError reaches the user
