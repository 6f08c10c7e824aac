"""The native sweeps as ``torch.library`` operators: what torch.compile and torch.export see.

Eager calls keep the autograd.Function of native/__init__.py (no dispatcher cost on a
streaming call); under torch.compile / torch.export the engine runs each layer-direction of a
built-in cell through these operators (``op_scan``), with the input projection (and its layer
norm) as plain torch ops around them:

- ``rnnkit::forward_sweep``: the training forward of one layer-direction from its projected
  inputs gx (N, G): returns y (N, P), h_n (B, P), c_n (B, H), and what the backward reads (the
  post-activation gates (not for RNN and IndRNN: their backward reads y), c or gh_n, the
  LSTM's pre-projection h, the layer-norm cells' normed products and moments); a cell
  without one returns an empty tensor in its place;
- ``rnnkit::projected_sweep``: the same from x (N, I), W_ih and the input bias, the projection
  made inside (the cells without an input layer norm): forward_sweep must copy the gx it is
  given (an operator may not write its input), this one writes the gates into its own
  (a copy of N·G floats less per call: 9.8 MB at B32 T100 H256 for a GRU);
- ``rnnkit::backward_sweep``: its reverse time loop, dL/dgx (and dL/dgh for the GRUs), the
  rows' h_{t-1}, dL/dh before the projection, dh_0, dc_0 and the cell parameters' per-slot
  gradients.

Each has a fake kernel that states the output shapes from the input shapes alone (symbolic
T and B), and the forward's autograd is registered: its backward is the backward operator
plus one GEMM per weight. ``batch_sizes`` is a (T,) int64 tensor (rows per step), so T stays
symbolic. tests/engine/test_ops.py checks both with ``torch.library.opcheck``.

Padded rows (a padded batch with lengths): rows.py.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

from ...cells.base import CellMath
from ...cells.layernorm import EPS
from ..precision import addmm, gemm_of, mm
from .build import load
from .compiled import layer_grads
from .rows import packed_steps, pad_rows

__all__ = [
    "backward_sweep",
    "forward_sweep",
    "op_scan",
    "projected_sweep",
]


def _defined_elsewhere() -> bool:
    """Whether rnnkit's operators are already defined in this process: by a library loaded
    before rnnkit (the runtime library, runtime.py), which this package cannot define them over."""
    try:
        torch.ops.rnnkit.forward_sweep  # noqa: B018  (an attribute lookup that may raise)
    except (AttributeError, RuntimeError):
        return False
    return True


if _defined_elsewhere():
    raise ImportError(
        "rnnkit: its operators (rnnkit::forward_sweep, ...) are already defined in this process "
        "by a library loaded before `import rnnkit` (the runtime library of `rnnkit build "
        "--runtime`?): import rnnkit first and then load the library (it adds nothing then), or "
        "run the package without rnnkit"
    )

_GRU_KERNELS = (2,)  # csrc/sweeps.h: the GRU (its gh_n is saved as S)
_LN_KERNELS = {3: 3, 4: 1}  # LN_LSTM, LN_GRU -> statistics saved per row


def _cell(name: str) -> tuple[CellMath, object]:
    """The built-in cell of that name and its native spec."""
    from . import _SPECS_BY_NAME

    if name not in _SPECS_BY_NAME:
        raise NotImplementedError(f"no native operator for the cell {name!r}")
    return _SPECS_BY_NAME[name]


def _traits(name: str, H: int) -> tuple[int, bool, bool, int, int]:
    """(G, has c, saves S, statistics per row K, parameter-gradient columns KP) of a cell."""
    cell, spec = _cell(name)
    has_c = cell.extra_states == 1
    K = _LN_KERNELS.get(spec.kernel, 0)
    KP = sum(width for _, width in spec.row_grads) * H
    return cell.gates * H, has_c, has_c or spec.kernel in _GRU_KERNELS, K, KP


_BY_NAME: dict[str, object] = {}  # cell name -> the extension's Cell


def _native(name: str) -> tuple[object, object]:
    """(the extension, its Cell for ``name``), the Cell made once."""
    from . import build, native_cell

    ext = build._module or load()
    made = _BY_NAME.get(name)
    if made is None:
        made = _BY_NAME[name] = native_cell(*_cell(name), ext)
    return ext, made


def _or_empty(t: Tensor | None, like: Tensor) -> Tensor:
    return like.new_empty(0) if t is None else t


def _present(cell: str, params: list[Tensor]) -> list[Tensor | None]:
    """The step parameters as the sweeps take them: an absent optional one (an operator's
    list holds tensors only: passed empty) as None; op_scan's placeholder of a cell without
    any dropped."""
    return [None if p.numel() == 0 else p for p in params[: len(_cell(cell)[1].step_params)]]


@torch.library.custom_op("rnnkit::forward_sweep", mutates_args=())
def forward_sweep(
    cell: str,
    gx: Tensor,
    W_hh: Tensor,
    b_hh: Tensor | None,
    W_hr: Tensor | None,
    h0: Tensor,
    c0: Tensor | None,
    params: list[Tensor],
    batch_sizes: Tensor,
    reverse: bool,
    bf16: bool,
) -> tuple[Tensor, Tensor, Tensor, Tensor, Tensor, Tensor, Tensor]:
    """(y, h_n, c_n, act, S, raw, aux_stats): see the module docstring; a tensor the cell does
    not have is empty."""
    # an operator may not write its input: the sweep turns a copy into the gates
    return _sweep(cell, gx.contiguous().clone(), W_hh, b_hh, W_hr, h0, c0, params, batch_sizes,
                  reverse, bf16)  # fmt: skip


def _sweep(cell, act, W_hh, b_hh, W_hr, h0, c0, params, batch_sizes, reverse, bf16) -> tuple:
    """forward_sweep on a gx (N, G) of its own, which becomes the post-activation gates."""
    ext, native = _native(cell)
    sizes, n = packed_steps(batch_sizes, h0.shape[0])
    if n < act.shape[0]:
        act[n:] = 0  # the padding's rows
    with _products(ext, bf16):
        y, h_n, c_n, S, raw, aux, stats = ext.forward_sweep(
            native, act[:n], W_hh, b_hh, W_hr, h0, c0, _present(cell, params), sizes, reverse
        )
    N = act.shape[0]
    y, S, raw, aux_stats = (pad_rows(t, N) for t in (y, _or_empty(S, y), _or_empty(raw, y),
                                                       _aux(aux, stats, y)))  # fmt: skip
    if not _cell(cell)[1].gates_saved:  # RNN, IndRNN: the backward reads y alone
        act = act.new_empty(0)  # (nothing N·G kept for it)
    return y, h_n, _or_empty(c_n, y), act, S, raw, aux_stats


def _aux(aux: Tensor | None, stats: Tensor | None, like: Tensor) -> Tensor:
    """The layer-norm cells' saved (N, G) normed products and (N, K) moments, side by side as
    one (N, G + K) tensor (an operator returns a fixed number of tensors)."""
    if aux is None:
        return like.new_empty(0)
    return torch.cat([aux, stats], 1)


def _products(ext, bf16: bool):
    """Around a sweep: its per-step products in bfloat16 where ``bf16`` (autocast's lowering,
    carried by the operator's argument) and the CPU has AVX512-BF16; float32 otherwise."""
    from . import _sweep_settings

    return _sweep_settings(ext, gemm_of(bf16), 0)


@forward_sweep.register_fake
def _(cell, gx, W_hh, b_hh, W_hr, h0, c0, params, batch_sizes, reverse, bf16):
    return _fake_sweep(cell, gx, gx.shape[0], h0, W_hr)


def _fake_sweep(cell: str, like: Tensor, N, h0: Tensor, W_hr: Tensor | None) -> tuple:
    """The outputs' shapes of a sweep over N rows (symbolic N and B)."""
    B, P = h0.shape
    H = P if W_hr is None else W_hr.shape[1]
    G, has_c, saves_S, K, _ = _traits(cell, H)
    empty = like.new_empty(0)
    return (
        like.new_empty(N, P),
        like.new_empty(B, P),
        like.new_empty(B, H) if has_c else empty,
        like.new_empty(N, G) if _cell(cell)[1].gates_saved else like.new_empty(0),
        like.new_empty(N, H) if saves_S else like.new_empty(0),
        like.new_empty(N, H) if W_hr is not None else like.new_empty(0),
        like.new_empty(N, G + K) if K else like.new_empty(0),
    )


@torch.library.custom_op("rnnkit::backward_sweep", mutates_args=())
def backward_sweep(
    cell: str,
    act: Tensor,
    S: Tensor,
    aux_stats: Tensor,
    y: Tensor,
    h0: Tensor,
    c0: Tensor | None,
    W_hh: Tensor,
    W_hr: Tensor | None,
    params: list[Tensor],
    dy: Tensor,
    dh_n: Tensor,
    dc_n: Tensor | None,
    batch_sizes: Tensor,
    reverse: bool,
    bf16: bool,
) -> tuple[Tensor, Tensor, Tensor, Tensor, Tensor, Tensor, Tensor]:
    """(dG, dG_h, H_prev, dH_out, dh_0, dc_0, dP): see the module docstring; dG_h is empty where
    the cell does not keep gh apart (it is dG then), dH_out without a projection, dc_0 without
    c, dP without cell parameters."""
    ext, native = _native(cell)
    sizes, n = packed_steps(batch_sizes, h0.shape[0])
    N, G = y.shape[0], (act.shape[1] if act.dim() == 2 else 0)  # (RNN, IndRNN: no act)
    act, S, aux_stats, y, dy = (t[:n] if t.numel() else t for t in (act, S, aux_stats, y, dy))
    aux, stats = (aux_stats[:, :G], aux_stats[:, G:]) if aux_stats.numel() else (None, None)
    with _products(ext, bf16):
        dG, dG_h, H_prev, dH_out, dh0, dc0, dP, *_ = ext.backward_sweep(
            native, act, S, aux, stats, y, h0, c0, W_hh, W_hr, _present(cell, params),
            dy.contiguous(), dh_n.contiguous(), None if dc_n is None else dc_n.contiguous(),
            sizes, reverse, False,
        )  # fmt: skip
    dG_h = dG.new_empty(0) if dG_h is dG else dG_h
    dG, dG_h, H_prev, dH_out = (pad_rows(t, N) for t in (dG, dG_h, H_prev, _or_empty(dH_out, dG)))
    return (dG, dG_h, H_prev, dH_out, dh0, _or_empty(dc0, dG), _or_empty(dP, dG))


@backward_sweep.register_fake
def _(cell, act, S, aux_stats, y, h0, c0, W_hh, W_hr, params, dy, dh_n, dc_n, batch_sizes,
      reverse, bf16):  # fmt: skip
    (N, P), B = y.shape, h0.shape[0]
    H = P if W_hr is None else W_hr.shape[1]
    G, has_c, _, _, KP = _traits(cell, H)
    split = _cell(cell)[0].split_hidden
    empty = y.new_empty(0)
    return (
        y.new_empty(N, G),
        y.new_empty(N, G) if split else empty,
        y.new_empty(N, P),
        y.new_empty(N, P) if W_hr is not None else y.new_empty(0),
        y.new_empty(B, P),
        y.new_empty(B, H) if has_c else y.new_empty(0),
        y.new_empty(B, KP) if KP else y.new_empty(0),
    )


def _save(ctx, cell, W_hh, b_hh, W_hr, h0, c0, params, batch_sizes, reverse, bf16, output,
          *extra) -> None:  # fmt: skip
    """What a sweep's backward reads (``extra``: the projection's x and W_ih, where it ran)."""
    y, _, _, act, S, raw, aux_stats = output
    ctx.cell, ctx.reverse, ctx.bf16, ctx.n_extra = cell, reverse, bf16, len(extra)
    ctx.has = (b_hh is not None, W_hr is not None, c0 is not None)
    ctx.save_for_backward(act, S, aux_stats, y, h0, c0, W_hh, W_hr, raw, batch_sizes, *extra,
                          *params)  # fmt: skip


def _sweep_grads(ctx, dy, dh_n, dc_n, need) -> tuple:
    """A sweep's (dx, dW_ih, dG, db_in, dW_hh, db_hh, dW_hr, dh0, dc0, dparams); ``need``:
    layer_grads' flags for (x, W_ih, W_hh, b_in, b_hh) (x, W_ih: the projection's, saved as
    the extras where it ran)."""
    act, S, aux_stats, y, h0, c0, W_hh, W_hr, raw, batch_sizes, *rest = ctx.saved_tensors
    (x, W_ih), params = (rest[:2] if ctx.n_extra else (None, None)), rest[ctx.n_extra :]
    has_b_hh, has_proj, has_c = ctx.has
    dy = torch.zeros_like(y) if dy is None else dy
    dh_n = torch.zeros_like(h0) if dh_n is None else dh_n
    if has_c and (dc_n is None or dc_n.numel() == 0):
        dc_n = torch.zeros_like(c0)
    dG, dG_h, H_prev, dH_out, dh0, dc0, dP = backward_sweep(
        ctx.cell, act, S, aux_stats, y, h0, c0 if has_c else None, W_hh,
        W_hr if has_proj else None, params, dy, dh_n, dc_n if has_c else None, batch_sizes,
        ctx.reverse, ctx.bf16,
    )  # fmt: skip
    need = (*need[:4], has_b_hh and need[4])  # (the GRU's b_hh: added inside the step)
    dx, dW_ih, dW_hh, db_in, db_hh = layer_grads(need, x, W_ih, W_hh, dG, dG_h, H_prev,
                                                 gemm_of(ctx.bf16))  # fmt: skip
    dW_hr = dH_out.t() @ raw if has_proj else None  # (P, H)
    H = raw.shape[1] if has_proj else h0.shape[1]
    cell, spec = _cell(ctx.cell)
    dparams, start = [], 0
    for p, k in zip(params, spec.step_params):  # dP's columns: each step parameter's units·H
        width = cell.params[k].size * H  # (absent optional ones too), summed over batch slots
        dparams.append(None if p.numel() == 0 else dP[:, start : start + width].sum(0))
        start += width
    dparams += [None] * (len(params) - len(dparams))  # op_scan's placeholder
    return (dx, dW_ih, dG, db_in, dW_hh, db_hh, dW_hr, dh0, dc0 if has_c else None, dparams)


def _setup(ctx, inputs, output) -> None:
    cell, _, *rest = inputs
    _save(ctx, cell, *rest, output)


def _backward(ctx, dy, dh_n, dc_n, *_saved_grads):
    # (cell, gx, W_hh, b_hh, W_hr, h0, c0, params, batch_sizes, reverse, bf16)
    need = ctx.needs_input_grad
    _, _, dG, _, *grads = _sweep_grads(ctx, dy, dh_n, dc_n, (False, False, True, False, need[3]))
    return (None, dG, *grads, None, None, None)


forward_sweep.register_autograd(_backward, setup_context=_setup)


@torch.library.custom_op("rnnkit::projected_sweep", mutates_args=())
def projected_sweep(
    cell: str,
    x: Tensor,
    W_ih: Tensor,
    b_in: Tensor | None,
    W_hh: Tensor,
    b_hh: Tensor | None,
    W_hr: Tensor | None,
    h0: Tensor,
    c0: Tensor | None,
    params: list[Tensor],
    batch_sizes: Tensor,
    reverse: bool,
    bf16: bool,
) -> tuple[Tensor, Tensor, Tensor, Tensor, Tensor, Tensor, Tensor]:
    """forward_sweep of gx = x·W_ihᵀ + b_in (N, G), the input projection made here: the sweep
    writes the gates into it, where forward_sweep has to copy the gx it is given."""
    return _sweep(cell, _project(x, W_ih, b_in, bf16), W_hh, b_hh, W_hr, h0, c0, params,
                  batch_sizes, reverse, bf16)  # fmt: skip


def _project(x: Tensor, W_ih: Tensor, bias: Tensor | None, bf16: bool = False) -> Tensor:
    """gx = x·W_ihᵀ (+ bias), (N, G): all steps in one GEMM (in bfloat16 where ``bf16``, as
    the eager path under autocast: precision.py)."""
    gemm = gemm_of(bf16)
    return mm(x, W_ih.t(), gemm, W_ih.dtype) if bias is None else addmm(bias, x, W_ih.t(), gemm)


@projected_sweep.register_fake
def _(cell, x, W_ih, b_in, W_hh, b_hh, W_hr, h0, c0, params, batch_sizes, reverse, bf16):
    return _fake_sweep(cell, x, x.shape[0], h0, W_hr)


def _setup_projected(ctx, inputs, output) -> None:
    cell, x, W_ih, b_in, *rest = inputs
    ctx.has_b_in = b_in is not None
    _save(ctx, cell, *rest, output, x, W_ih)


def _backward_projected(ctx, dy, dh_n, dc_n, *_saved_grads):
    # (cell, x, W_ih, b_in, W_hh, b_hh, W_hr, h0, c0, params, batch_sizes, reverse, bf16)
    need_x, need_W_ih, need_b_in, _, need_b_hh = ctx.needs_input_grad[1:6]
    need = (need_x, need_W_ih, True, ctx.has_b_in and need_b_in, need_b_hh)
    dx, dW_ih, _, *grads = _sweep_grads(ctx, dy, dh_n, dc_n, need)
    return (None, dx, dW_ih, *grads, None, None, None)


projected_sweep.register_autograd(_backward_projected, setup_context=_setup_projected)


def op_scan(
    cell: CellMath,
    x: Tensor,
    weights: tuple,
    params: tuple,
    h0: Tensor,
    c0: Tensor | None,
    batch_sizes: Tensor,
    reverse: bool,
    bf16: bool = False,
) -> tuple[Tensor, Tensor, Tensor | None]:
    """One layer-direction of a built-in cell on packed rows x (N, I) through the operators:
    (y (N, P), h_n (B, P), c_n (B, H) or None). ``weights`` = (W_ih, W_hh, b_ih, b_hh, W_hr),
    ``params`` the cell's own parameters in ``cell.params`` order. ``bf16``: the GEMMs and
    per-step products as the eager path runs them under bfloat16 autocast (precision.py)."""
    _, spec = _cell(cell.name)
    W_ih, W_hh, b_ih, b_hh, W_hr = weights
    # the input bias: b_ih, plus b_hh where the cell folds it in (the GRU adds b_hh in the step)
    in_bias = b_ih + b_hh if b_ih is not None and spec.fold_b_hh else b_ih
    b_hh_step = b_hh if not spec.fold_b_hh else None
    # a cell without step parameters passes one empty placeholder: AOTInductor hands an empty
    # Tensor[] to the operator as None (torch 2.13), which its schema refuses
    step_params = [_or_empty(params[k], x) for k in spec.step_params] or [x.new_empty(0)]
    if spec.input_norm:  # LN(x·W_ihᵀ) in torch ops, the sweep on a copy of it
        gx = _project(x, W_ih, in_bias, bf16)
        gx = F.layer_norm(gx, (gx.shape[1],), params[0], params[1], EPS)
        y, h_n, c_n, *_ = forward_sweep(cell.name, gx, W_hh, b_hh_step, W_hr, h0, c0, step_params,
                                        batch_sizes, reverse, bf16)  # fmt: skip
    else:  # (N, G) all steps in one GEMM, inside the operator
        y, h_n, c_n, *_ = projected_sweep(cell.name, x, W_ih, in_bias, W_hh, b_hh_step, W_hr, h0,
                                          c0, step_params, batch_sizes, reverse, bf16)  # fmt: skip
    return y, h_n, (c_n if c0 is not None else None)
