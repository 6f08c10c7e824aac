"""Your own cell: write its step (and, for the fused engine's speed, its step backward).

``define_cell`` turns the step math into a :class:`CellMath`; ``rnnkit.Recurrent(cell, ...)``
makes a layer of it with every layer option (num_layers, bidirectional, batch_first, dropout,
lengths, PackedSequence, initial state). The native engine compiles an element-wise step to C++
with a derived backward (engine/native/compiled.py); elsewhere, without a ``step_backward``
the fused sweep gets each step's gradients from autograd on a recomputation of that step (the
step's inputs are saved instead of its activations). See docs/custom_cells.md.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import Tensor

from .base import CellMath, ParamSpec

__all__ = ["autograd_step_backward", "define_cell", "defined_cells"]

# every cell define_cell made in this process, by name: where a program saved by torch.export
# (or an AOTInductor package) finds the cell its operators name (engine/native/cell_ops.py)
_DEFINED: dict[str, list[CellMath]] = {}


def defined_cells(name: str) -> tuple[CellMath, ...]:
    """The cells ``define_cell`` made under ``name`` in this process, oldest first."""
    return tuple(_DEFINED.get(name, ()))


def _saving_inputs(step: Callable) -> Callable:
    """``step`` whose ``saved`` is its own inputs, so backward can recompute it."""

    def step_saving_inputs(gx, gh, h_prev, extra_prev, params):
        h, extra_new, _ = step(gx, gh, h_prev, extra_prev, params)
        return h, extra_new, (gx,) if gh is None else (gx, gh)

    return step_saving_inputs


def autograd_step_backward(step: Callable) -> Callable:
    """A step backward that recomputes ``step`` from its saved inputs and asks autograd."""

    def step_backward(dh, d_extra, saved, h_prev, extra_prev, params):
        gx, gh = saved[0], saved[1] if len(saved) > 1 else None
        with torch.enable_grad():
            inputs = [t.detach().requires_grad_(True) for t in (gx, h_prev, *extra_prev)]
            gh_in = None if gh is None else gh.detach().requires_grad_(True)
            live = [p for p in params if p is not None]
            p_in = [p.detach().requires_grad_(True) for p in live]
            it = iter(p_in)
            p_args = tuple(None if p is None else next(it) for p in params)
            h, extra_new, _ = step(inputs[0], gh_in, inputs[1], tuple(inputs[2:]), p_args)
            wrt = inputs + ([gh_in] if gh_in is not None else []) + p_in
            grads = torch.autograd.grad((h, *extra_new), wrt, (dh, *d_extra), allow_unused=True)
        grads = [g if g is not None else torch.zeros_like(t) for g, t in zip(grads, wrt)]
        dgx, dh_direct = grads[0], grads[1]
        d_extra_prev = tuple(grads[2 : 2 + len(extra_prev)])
        k = 2 + len(extra_prev)
        dgh = grads[k] if gh_in is not None else None
        it = iter(grads[k + (gh_in is not None) :])
        dparams = tuple(None if p is None else next(it) for p in params)
        return dgx, dgh, dh_direct, d_extra_prev, dparams

    return step_backward


def define_cell(
    name: str,
    gates: int,
    step: Callable[..., tuple],
    step_backward: Callable[..., tuple] | None = None,
    *,
    extra_states: int = 0,
    split_hidden: bool = False,
    params: tuple[ParamSpec, ...] = (),
    forget_gate: int | None = None,
    prepare_input: Callable[[Tensor, tuple], Tensor] | None = None,
) -> CellMath:
    """Describe a cell by its step math (contract in :mod:`rnnkit.cells.base`).

    ``gates``: G / H, the width of the input projection in units of H. ``extra_states``:
    states besides h (an LSTM's c: 1). ``split_hidden``: pass h·W_hhᵀ + b_hh to ``step``
    apart (as ``gh``) instead of added into ``gx``. ``params``: the cell's own parameters.
    Without ``step_backward``, gradients of each step come from autograd (slower, same result).
    """
    if gates < 1 or extra_states < 0:
        raise ValueError(
            f"define_cell expected gates >= 1 and extra_states >= 0, got {gates}, {extra_states}"
        )
    if step_backward is None:
        step, step_backward = _saving_inputs(step), autograd_step_backward(step)
    cell = CellMath(
        name=name,
        gates=gates,
        extra_states=extra_states,
        split_hidden=split_hidden,
        step=step,
        step_backward=step_backward,
        params=tuple(params),
        forget_gate=forget_gate,
        prepare_input=prepare_input,
    )
    _DEFINED.setdefault(name, []).append(cell)
    return cell
