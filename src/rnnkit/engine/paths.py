"""The backends of a stack call (see stack.py), in the order the plan tries them.

Each says cheaply whether it ``accepts`` a checked call and ``run``s it; a run that finds it
cannot go on raises ``NotImplementedError`` before touching anything, and the next one takes the
call. ``LayerByLayer`` takes every call; inside it each layer-direction runs on the backend
``set_backend`` selects (``backends.scan``).
"""

from __future__ import annotations

import weakref
from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import Tensor

from ..cells.base import CellMath
from ..cells.minimal import MinCell
from . import autotune, stack
from .backends import (
    TORCH_KERNELS,
    get_backend,
    hands_lstm_to_torch,
    infer_stack,
    min_layer,
    native_enabled,
    scan,
    torch_stack,
)
from .native import StackWeights, native_cells, team_cap
from .noise import sequence_mask, step_noise
from .precision import gemm_dtype
from .sequences import SeqBatch, prepare_sequences
from .stack import StackCall, StackSpec, StackWeightsSource, bucket_key
from .traced import Traced

__all__ = ["PLAN", "LayerByLayer", "NativeStack", "TorchKernel"]


class TorchKernel:
    """torch's own kernel (oneDNN / ATen: what torch.nn.LSTM, GRU and RNN call) for the cells it
    has, where the plan measured it faster on this machine (autotune.py)."""

    name = "torch"

    def accepts(self, call: StackCall) -> bool:
        c, spec, noise = call.checked, call.spec, call.noise
        if spec.cell not in TORCH_KERNELS or not c.plain or c.unbatched or c.B == 0:
            return False
        if get_backend() != "auto" or not native_enabled() or not c.x.is_cpu:
            return False
        if c.x.dtype not in (torch.float32, torch.float64) or torch.compiler.is_compiling():
            return False
        # its dropout draws other masks than ours: a call with dropout stays on ours, so the
        # path changes no result beyond rounding
        if noise.per_sequence() or (noise.training and noise.between_layers(spec.num_layers)):
            return False
        # under bfloat16 autocast ours runs bfloat16 GEMMs, torch's kernel float32 (measured
        # on Zen 4 with AVX512-BF16, one thread, LSTM B64 H512 / B128 H1024 no-grad: ours 1.5x
        # / 1.5x faster): the fixed default keeps such calls on ours
        default = gemm_dtype() is None and hands_lstm_to_torch(
            spec.cell, c.B, spec.hidden_size, c.x, call.grad
        )
        trials = {"torch": _trial(call, self.run), "rnnkit": _trial(call, _ours)}
        return autotune.choose(_bucket(call), trials, "torch" if default else "rnnkit") == "torch"

    def run(self, call: StackCall) -> tuple:
        spec, c = call.spec, call.checked
        if call.states is None:
            states = tuple(c.x.new_zeros(spec.LD, c.B, w) for w in spec.state_widths)
        else:
            states = call.states
        out = torch_stack(
            spec.cell, call.input, states if len(states) == 2 else states[0],
            call.weights._flat_weights, has_biases=spec.bias, num_layers=spec.num_layers,
            dropout=0.0, train=call.noise.training, bidirectional=spec.num_directions == 2,
            batch_first=spec.batch_first,
        )  # fmt: skip
        return out[0], (out[1] if len(out) == 2 else tuple(out[1:]))


# (id(spec), B and T rounded, dtype, grad, threads, GEMM dtype) -> (spec, its bucket key): the
# key string costs a few microseconds to build, a fair share of a streaming call's ~15 us
_buckets: dict[tuple, tuple[StackSpec, str]] = {}


def _bucket(call: StackCall) -> str:
    """The plan's key of a call: what its speed depends on, B and T rounded up to a power of 2."""
    spec, c = call.spec, call.checked
    pow2 = autotune.pow2
    memo = (id(spec), pow2(c.B), pow2(c.T), c.x.dtype, call.grad, torch.get_num_threads(),
            gemm_dtype())  # fmt: skip
    entry = _buckets.get(memo)
    if entry is not None and entry[0] is spec:  # (an id is reused only once spec is gone)
        return entry[1]
    if len(_buckets) > 4096:  # many short-lived layers: start over
        _buckets.clear()
    key = _bucket_key(call)
    _buckets[memo] = (spec, key)
    return key


def _bucket_key(call: StackCall) -> str:
    c = call.checked
    return bucket_key(call.spec, c.x.dtype, call.grad, c.B, c.T)


def _trial(call: StackCall, run) -> Callable[[], None]:
    """One complete run of ``run`` on copies of the call's input and states: the forward, and
    where autograd records, the backward into fresh gradients (no ``.grad`` is touched). The
    copies are made on the first run only: a call whose bucket the plan knows makes none."""
    made: list = []

    def once() -> None:
        if not made:
            made.append(_trial_call(call))
        copy, leaves = made[0]
        if not (call.grad and leaves):
            run(copy)
            return
        y = run(copy)[0]
        torch.autograd.grad(y, leaves, torch.ones_like(y), allow_unused=True)

    return once


def _trial_call(call: StackCall) -> tuple[StackCall, list[Tensor]]:
    """The call on detached copies of its input and states, and the tensors a backward of it
    differentiates (the copies that require grad, the weights that do)."""
    x = call.input.detach().requires_grad_(call.input.requires_grad)
    states = call.states and tuple(s.detach().requires_grad_(s.requires_grad) for s in call.states)
    checked = call.checked._replace(x=x.transpose(0, 1) if call.spec.batch_first else x)
    leaves = [t for t in (x, *(states or ())) if t.requires_grad]
    leaves += [w for w in call.weights._flat_weights if w.requires_grad]
    return call._replace(input=x, checked=checked, states=states), leaves


def _ours(call: StackCall) -> tuple:
    """The call on rnnkit's own engine: the plan after torch's kernel."""
    rest = [b.name for b in PLAN].index("torch") + 1
    return stack.run_plan(PLAN[rest:], call)


# id(source) -> (weak reference to the source, its weights_key, the kept weights)
_native_weights: dict[int, tuple[weakref.ref, object, StackWeights]] = {}


def stack_weights(source: StackWeightsSource, LD: int) -> list:
    """``source.layer_weights(k)`` of every layer-direction, kept (with the native argument
    lists made from them) while ``source.weights_key()`` stays the same and the source lives."""
    key = source.weights_key()
    if key is None:
        return [source.layer_weights(k) for k in range(LD)]
    entry = _native_weights.get(id(source))
    if entry is not None and entry[0]() is source and entry[1] == key:
        return entry[2]
    ident = id(source)
    ref = weakref.ref(source, lambda _, ident=ident: _native_weights.pop(ident, None))
    kept = StackWeights(source.layer_weights(k) for k in range(LD))
    _native_weights[ident] = (ref, key, kept)
    return kept


class NativeStack:
    """Autograd off, a plain padded batch: the whole stack in one native call, nothing saved
    (the streaming path). Declines where the native engine does not run the cell."""

    name = "native"

    def accepts(self, call: StackCall) -> bool:
        c, spec = call.checked, call.spec
        return (
            stack.whole_stack(call)
            and c.B > 0
            and c.x.is_cpu
            and isinstance(spec.cell, CellMath)
            and len(spec.state_widths) <= 2
        )

    def run(self, call: StackCall) -> tuple:
        return _capped(call, self._run)

    def _run(self, call: StackCall) -> tuple:
        return self._infer(call, _both_directions(call, self._infer))

    @staticmethod
    def _infer(call: StackCall, both_directions: bool) -> tuple:
        spec, c = call.spec, call.checked
        h0, c0 = stack.stack_states(call)
        layers = stack_weights(call.weights, spec.LD)
        D = spec.num_directions
        out = infer_stack(spec.cell, c.x, c.T, layers, D, h0, c0, both_directions)
        if out is None:
            raise NotImplementedError(f"the native stack does not run {spec.cell.name}")
        return stack.stack_output(call, *out)  # out: y (T, B, D*P), h_n, c_n or None


def _both_directions(call: StackCall, infer) -> bool:
    """Whether a bidirectional stack's two directions run at once (a thread each) rather than
    one after the other (the threads sharing each): measured per shape bucket (autotune.py);
    one after the other with measuring off, on one thread, or with one direction."""
    if call.spec.num_directions != 2 or torch.get_num_threads() < 2:
        return False
    if not autotune.enabled() or torch.compiler.is_compiling():
        return False
    trials = {"in turn": lambda: infer(call, False), "at once": lambda: infer(call, True)}
    return autotune.choose(_bucket(call) + "|directions", trials, "in turn") == "at once"


# a sweep of fewer multiply-adds (T·B·G·P) never gets a team (csrc/team.h: TeamLimits)
TEAM_MIN_SWEEP = 1 << 22


def _team_cap(call: StackCall, run: Callable[[StackCall], tuple]) -> int:
    """1 where the plan measured this bucket's native sweeps faster each on its calling thread
    than shared by a team of threads, else 0 (the C++ plans teams by constants measured on one
    AMD Zen 4): measured per shape bucket where a team could form (2+ threads, a built-in cell
    on the native engine, a sweep of at least TEAM_MIN_SWEEP multiply-adds; a padded batch,
    with or without lengths; a PackedSequence or unbatched call keeps the C++'s choice)."""
    spec, c = call.spec, call.checked
    cell = spec.cell  # (the cheap tests first: a streaming call takes ~15 us in all)
    if not isinstance(cell, CellMath) or c.x is None or c.unbatched:
        return 0  # (a PackedSequence, an unbatched call: the C++'s own choice)
    if torch.get_num_threads() < 2:
        return 0
    P = spec.proj_size or spec.hidden_size
    if c.T * c.B * cell.gates * spec.hidden_size * P < TEAM_MIN_SWEEP:
        return 0
    if cell.name not in native_cells() or get_backend() not in ("auto", "native"):
        return 0
    if not native_enabled() or not autotune.enabled() or torch.compiler.is_compiling():
        return 0

    def capped(cap: int) -> Callable[[StackCall], tuple]:
        def run_capped(copy: StackCall) -> tuple:
            with team_cap(cap):
                return run(copy)

        return run_capped

    trials = {"team": _trial(call, capped(0)), "one thread": _trial(call, capped(1))}
    return int(autotune.choose(_bucket(call) + "|team", trials, "team") == "one thread")


def _capped(call: StackCall, run: Callable[[StackCall], tuple]) -> tuple:
    """``run(call)`` with the team cap the plan keeps for its bucket (_team_cap)."""
    cap = _team_cap(call, run)
    if not cap:
        return run(call)
    with team_cap(cap):
        return run(call)


class LayerByLayer:
    """Every call: the packed layout, then one scan per layer-direction (training, lengths,
    PackedSequence, noise, every cell), each on the backend ``set_backend`` selects."""

    name = "layers"

    def accepts(self, call: StackCall) -> bool:
        return True

    def run(self, call: StackCall) -> tuple:
        return _capped(call, self._run)

    def _run(self, call: StackCall) -> tuple:
        spec, noise = call.spec, call.noise
        seq = prepare_sequences(call.checked)
        states0 = self._initial_states(call, seq)
        before_layer = None
        if noise.input_dropout and noise.training:  # one mask per sequence, all steps

            def before_layer(x: Tensor) -> Tensor:
                return x * sequence_mask(x, seq.layout.batch_index(), seq.B, noise.input_dropout)

        def layer_direction(k: int, x: Tensor, reverse: bool) -> tuple[Tensor, ...]:
            y, states_n = _run_layer(call, seq, k, reverse, x, states0)
            return (y, *states_n)

        x, finals = stack.through_layers(
            spec, noise, seq.data, len(states0), layer_direction, before_layer
        )
        output = seq.output(x)
        states = tuple(seq.unsort_state(s) for s in finals)
        if seq.unbatched:
            states = tuple(s.squeeze(1) for s in states)
        return output, (states[0] if len(states) == 1 else states)

    @staticmethod
    def _initial_states(call: StackCall, seq: SeqBatch) -> tuple[Tensor, ...]:
        """(h_0, *extra_0) each (L*D, B, .) in sorted batch order; zeros where none came."""
        if call.states is None:
            LD, like = call.spec.LD, seq.data
            return tuple(like.new_zeros(LD, seq.B, w) for w in call.spec.state_widths)
        return tuple(seq.sort_state(s) for s in call.states)


def _run_layer(
    call: StackCall, seq: SeqBatch, k: int, reverse: bool, x: Tensor, states0: tuple
) -> tuple[Tensor, tuple[Tensor, ...]]:
    """Layer-direction k on the packed rows x (N, I_k): its output (N, P) and final states."""
    cell, spec = call.spec.cell, call.spec
    w, params = call.weights.layer_weights(k)
    if isinstance(cell, MinCell):
        gx = F.linear(x, w.W_ih, w.b_ih)  # (N, G) all steps in one GEMM
        y, h_n = min_layer(cell, seq.layout, reverse, gx, states0[0][k], spec.min_mode,
                           spec.scan_chunk)  # fmt: skip
        return y, (h_n,)
    extra0 = tuple(s[k] for s in states0[1:])
    noise = step_noise(call.noise, seq.layout.N, states0)
    y, h_n, extra_n = scan(cell, seq.layout, reverse, x, w, states0[0][k], extra0, params, noise)
    return y, (h_n, *extra_n)


PLAN = (Traced(), TorchKernel(), NativeStack(), LayerByLayer())
stack._plan = PLAN
