"""The team path of the native sweeps (several threads, each owning a slice of the units of
every row, meeting at barriers; csrc/team.h) agrees with the reference loop, forward and
backward, for the cells it runs, on uniform and shrinking batches, both directions, and unit
counts that do not split evenly; and with the single-thread sweep in the no-grad stack.

Run: python -m pytest tests/engine/test_native_team.py -q
"""

from __future__ import annotations

import pytest
import torch

import rnnkit
from helpers import assert_close
from rnnkit import cells
from rnnkit.engine import time_layout
from rnnkit.engine.native import build, compiler_available, native_scan
from rnnkit.engine.reference import reference_scan
from rnnkit.engine.weights import LayerWeights

pytestmark = pytest.mark.skipif(not compiler_available(), reason="no C++ compiler on PATH")

CELLS = {
    "rnn_tanh": cells.RNN_TANH,
    "rnn_relu": cells.RNN_RELU,
    "lstm": cells.LSTM,
    "gru": cells.GRU,
    "peephole_lstm": cells.PEEPHOLE_LSTM,
}


@pytest.fixture(params=[2, 3], ids=["team2", "team3"])
def team(request):
    """Every sweep the team can run is shared among `param` threads."""
    ext = build.load()
    threads = torch.get_num_threads()
    torch.set_num_threads(request.param)
    ext.use_team(True)
    yield request.param
    ext.use_team(False)
    torch.set_num_threads(threads)


def _problem(cell, batch_sizes, dtype, I=5, H=13):
    gen = torch.Generator().manual_seed(0)
    lay, G = time_layout(batch_sizes), cell.gates * H

    def rand(*shape):
        return (
            (torch.randn(*shape, generator=gen, dtype=torch.float64) * 0.5)
            .to(dtype)
            .requires_grad_()
        )

    w = LayerWeights(rand(G, I), rand(G, H), rand(G), rand(G))
    params = tuple(rand(spec.size * H) for spec in cell.params)
    extra0 = (rand(lay.B, H),) if cell.extra_states else ()
    return lay, rand(lay.N, I), w, rand(lay.B, H), extra0, params


def _run(scan_fn, cell, lay, reverse, x, w, h0, extra0, params):
    y, h_n, extra_n = scan_fn(cell, lay, reverse, x, w, h0, extra0, params)
    outs = (y, h_n, *extra_n)
    gen = torch.Generator().manual_seed(1)
    loss = sum((o * torch.randn(o.shape, generator=gen, dtype=o.dtype)).sum() for o in outs)
    inputs = [x, h0, *extra0, *(t for t in w if t is not None), *params]
    return [o.detach() for o in outs] + list(torch.autograd.grad(loss, inputs))


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32], ids=["f64", "f32"])
@pytest.mark.parametrize(
    "batch_sizes", [(7,) * 6, (9, 9, 6, 4, 4, 1)], ids=["uniform", "shrinking"]
)
@pytest.mark.parametrize("reverse", [False, True], ids=["forward", "reverse"])
@pytest.mark.parametrize("name", list(CELLS))
def test_team_sweeps_match_reference(team, name, reverse, batch_sizes, dtype):
    cell = CELLS[name]
    lay, *rest = _problem(cell, batch_sizes, dtype)
    got = _run(native_scan, cell, lay, reverse, *rest)
    want = _run(reference_scan, cell, lay, reverse, *rest)
    for k, (a, b) in enumerate(zip(got, want)):
        assert_close(a, b, f"{name} tensor {k}")


@pytest.mark.parametrize("name", ["lstm", "gru", "rnn"])
def test_team_infer_stack_matches_single_thread(team, name):
    """The no-grad stack (2 layers, bidirectional) on a team equals the single-thread sweep."""
    torch.manual_seed(0)
    layer = getattr(rnnkit, name.upper())(6, 21, num_layers=2, bidirectional=True)
    layer = layer.double().eval()
    x = torch.randn(8, 5, 6, dtype=torch.float64)
    with torch.no_grad():
        got = layer(x)
        build.load().use_team(False)
        with rnnkit.use_backend("reference"):
            want = layer(x)
    flat = lambda out: [out[0], *(out[1] if isinstance(out[1], tuple) else (out[1],))]  # noqa: E731
    for a, b in zip(flat(got), flat(want)):
        assert_close(a, b)


@pytest.mark.parametrize("name", ["rnn_tanh", "lstm", "gru"])
def test_team_members_with_blas_sized_slices_match_reference(team, name):
    """A member's slice of 64 rows x 128 x 64 units goes to BLAS (csrc/team.h kTeamBlasMacs);
    the later 40- and 9-row steps to the blocked kernel."""
    cell = CELLS[name]
    lay, *rest = _problem(cell, (64, 64, 40, 9), torch.float64, I=8, H=128)
    for reverse in (False, True):
        got = _run(native_scan, cell, lay, reverse, *rest)
        want = _run(reference_scan, cell, lay, reverse, *rest)
        for k, (a, b) in enumerate(zip(got, want)):
            assert_close(a, b, f"{name} tensor {k}")
