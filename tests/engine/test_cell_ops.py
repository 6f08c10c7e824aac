"""The operators of cells compiled from their Python step (engine/native/cell_ops.py):
``torch.library.opcheck`` (schema, fake kernel, registered autograd) on packed and padded rows,
gradients equal to the reference loop's autograd in float64, and the key that names a cell.

Run: python -m pytest tests/engine/test_cell_ops.py -q
"""

from __future__ import annotations

import pytest
import torch

import rnnkit
from helpers import cifg_step, elman_step, gained_gru_params, gained_gru_step
from rnnkit.engine.native import cell_ops, compiler_available

pytestmark = pytest.mark.skipif(not compiler_available(), reason="no C++ compiler on PATH")

GAINED = gained_gru_params()
CELLS = {
    "cifg": rnnkit.define_cell("ops_cifg", 3, cifg_step, extra_states=1),
    "gained_gru": rnnkit.define_cell(
        "ops_gained_gru", 3, gained_gru_step, split_hidden=True, params=GAINED
    ),
    "elman": rnnkit.define_cell("ops_elman", 1, elman_step),
}


def _inputs(cell, B, sizes, N, dtype, shift=True):
    """The operator's tensors for ``cell`` at width 5: rows x (N, 4) (past Σ sizes: padding)."""
    torch.manual_seed(0)
    H, I, G, E = 5, 4, cell.gates * 5, cell.extra_states
    t = lambda *shape: torch.randn(*shape, dtype=dtype, requires_grad=True)  # noqa: E731
    present = (True, shift) if cell.params else ()
    params = [t(H), t(H) if shift else torch.empty(0, dtype=dtype)] if cell.params else []
    key = cell_ops.cell_key(cell, present)
    xs0 = t(B, E * H) if E else torch.empty(0, dtype=dtype)
    args = (key, t(N, I), t(G, I), t(G), t(G, H), t(G) if cell.split_hidden else None, t(B, H),
            xs0, params or [torch.empty(0, dtype=dtype)], torch.tensor(sizes), False,
            False)  # fmt: skip
    return args


@pytest.mark.parametrize("name", list(CELLS))
@pytest.mark.parametrize(
    "sizes, N", [([3, 3, 3, 3], 12), ([3, 2, 2, 1], 8), ([3, 2, 1, 0], 9)], ids=["full", "packed",
                                                                               "padded"]
)  # fmt: skip
def test_opcheck_cell_sweep(name, sizes, N):
    args = _inputs(CELLS[name], 3, sizes, N, torch.float64)
    torch.library.opcheck(torch.ops.rnnkit.cell_sweep.default, args)


@pytest.mark.parametrize("name", ["cifg", "gained_gru"])
def test_opcheck_cell_sweep_with_bfloat16_gemms(name):
    """bf16=True (autocast's lowering, float32 rows): the projection and the weight-gradient
    GEMMs in bfloat16, registered autograd and fake kernel consistent."""
    args = list(_inputs(CELLS[name], 3, [3, 2, 1], 6, torch.float32))
    args[-1] = True
    torch.library.opcheck(torch.ops.rnnkit.cell_sweep.default, tuple(args))


@pytest.mark.parametrize("name", list(CELLS))
def test_opcheck_cell_sweep_backward(name):
    cell = CELLS[name]
    key, x, W_ih, b_in, W_hh, b_hh, h0, xs0, params, sizes, rev, bf16 = _inputs(
        cell, 2, [2, 2, 1], 6, torch.float64
    )
    y, _, _, pre, S, gh = cell_ops.cell_sweep(key, x, W_ih, b_in, W_hh, b_hh, h0, xs0,
                                                   params, sizes, rev, bf16)  # fmt: skip
    args = (key, pre.detach(), gh.detach(), S.detach(), y.detach(), h0.detach(), xs0.detach(),
            W_hh.detach(), [p.detach() for p in params], torch.randn_like(y), torch.randn_like(h0),
            torch.randn_like(xs0), sizes, rev)  # fmt: skip
    torch.library.opcheck(torch.ops.rnnkit.cell_sweep_backward.default, args)


@pytest.mark.parametrize("name", list(CELLS))
@pytest.mark.parametrize("shift", [True, False])
def test_gradients_equal_the_reference_loop(name, shift):
    """The operators' forward and backward against the reference loop's autograd (float64),
    a reverse direction over a packed batch, with and without the optional bias parameter."""
    cell = CELLS[name]
    if not cell.params and not shift:
        pytest.skip("no optional parameter")
    layer = rnnkit.Recurrent(cell, 4, 5, bias=shift, bidirectional=True).double()
    x = torch.randn(6, 3, 4, dtype=torch.float64)
    lengths = torch.tensor([6, 2, 4])
    packed = torch.nn.utils.rnn.pack_padded_sequence(x, lengths, enforce_sorted=False)

    def run(backend, compiled):
        out, _ = (torch.compile(layer, fullgraph=True) if compiled else layer)(packed)
        data = out.data
        return [data, *torch.autograd.grad((data * data.cos()).sum(), list(layer.parameters()))]

    torch._dynamo.reset()
    with rnnkit.use_backend("reference"):
        want = run("reference", False)
    got = run("auto", True)
    for g, w in zip(got, want, strict=True):
        assert (g - w).abs().max() <= 1e-10 * max(1.0, w.abs().max())


def test_equal_steps_share_a_key_and_an_unknown_key_is_named():
    twin = rnnkit.define_cell("ops_cifg", 3, cifg_step, extra_states=1)
    key = cell_ops.cell_key(CELLS["cifg"], ())
    assert cell_ops.cell_key(twin, ()) == key and key.startswith("ops_cifg-")
    other = cell_ops.cell_key(CELLS["elman"], ())
    assert other != key
    args = list(_inputs(CELLS["elman"], 2, [2, 2], 4, torch.float32))
    args[0] = "nowhere_cell-0123456789ab/"
    with pytest.raises(RuntimeError, match="no cell 'nowhere_cell-0123456789ab/' in this process"):
        cell_ops.cell_sweep(*args)
