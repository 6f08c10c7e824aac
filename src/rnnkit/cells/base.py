"""The contract every cell's math follows, so one scan engine can run them all.

A cell is two pure functions over one time step (no modules, no state, no I/O):

``step(gx, gh, h_prev, extra_prev, params) -> (h_raw, extra_new, saved)``
    ``gx``     (n, G) input projection of this step, ``x_t · W_ihᵀ + b_ih`` (then
               ``prepare_input`` if the cell has one). For cells whose hidden projection
               enters the gates unchanged (``split_hidden=False``: RNN, LSTM) the engine has
               already added ``h_prev · W_hhᵀ + b_hh`` into ``gx`` (one fused GEMM) and ``gh``
               is ``None``.
    ``gh``     (n, G) ``h_prev · W_hhᵀ + b_hh`` for cells that need it apart (GRU), else ``None``.
               With ``diagonal_hidden`` W_hh is a (G,) vector and the product is element-wise.
    ``h_prev`` (n, P) previous recurrent output (P = H, or proj_size for a projected LSTM).
    ``extra_prev`` tuple of further states, e.g. ``(c_prev,)`` of shape (n, H) for the LSTM.
    ``params`` the cell's own parameters (``CellMath.params`` order), e.g. layer-norm gains.
    Returns the new cell output ``h_raw`` (n, H) before any projection, the new extra states,
    and ``saved``: the activations ``step_backward`` needs (post-activation gates, ...). The
    engine keeps h and the extra states of every step itself, so ``saved`` need not repeat
    them (a saved tensor that *is* ``h_raw`` is stored once, as the output).

``step_backward(dh, d_extra, saved, h_prev, extra_prev, params)
        -> (dgx, dgh, dh_direct, d_extra_prev, dparam_rows)``
    ``dh`` (n, H) is dL/dh_raw, ``d_extra`` the gradients flowing into the new extra states.
    Returns dL/dgx (n, G); dL/dgh (n, G) or ``None`` when it equals dL/dgx; the part of
    dL/dh_prev that does not pass through ``W_hh`` (GRU's ``z * h_prev`` term) or ``None``;
    dL/d(extra_prev); and per parameter its per-row gradient (n, *shape) or ``None``. The
    engine turns dgx / dgh into weight gradients, and sums the rows, after the sweep.

``G = gates * H``. Gate order follows torch.nn: LSTM (i, f, g, o), GRU (r, z, n).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from torch import Tensor

__all__ = ["CellMath", "ParamSpec"]


@dataclass(frozen=True)
class ParamSpec:
    """A cell parameter beyond W_ih / W_hh / biases: its name, shape (in units of H), init."""

    name: str  # attribute suffix, e.g. "ln_hh_weight" -> ln_hh_weight_l0
    size: int  # the parameter is a vector of size * hidden_size
    init: str = "ones"  # "ones", "zeros" or "uniform" (±1/sqrt(H) as torch.nn)
    is_bias: bool = False  # created only when the layer has bias=True (else passed as None)


@dataclass(frozen=True)
class CellMath:
    """The pure math of one recurrent cell, as the scan engine consumes it."""

    name: str  # the one name of the cell: registry key, --cell choice, what the native engine sees
    gates: int  # G / H: 1 (RNN), 3 (GRU), 4 (LSTM)
    extra_states: int  # states besides h: 0 (RNN, GRU), 1 (LSTM: c)
    split_hidden: bool  # True when the cell needs h·W_hhᵀ + b_hh apart from gx (GRU)
    step: Callable[..., tuple]
    step_backward: Callable[..., tuple]
    supports_projection: bool = False  # LSTM's proj_size
    diagonal_hidden: bool = False  # W_hh is a (G,) vector (IndRNN): gh = h_prev ⊙ w_hh
    params: tuple[ParamSpec, ...] = field(default=())  # the cell's own parameters
    forget_gate: int | None = None  # index of the forget gate block (LSTM family: 1)
    weight_biases: bool = True  # bias_ih / bias_hh exist (False where the cell's own replace them)
    # gx -> gx' for all rows at once, under autograd, before the scan (e.g. layer norm of x·W_ihᵀ)
    prepare_input: Callable[[Tensor, tuple[Tensor, ...]], Tensor] | None = None
