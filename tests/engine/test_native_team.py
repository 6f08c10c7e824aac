"""The team paths of the native sweeps (csrc/team.h: a units team, each thread owning a slice
of the units of every row, meeting at barriers; a row team, each thread running the sweep on
its own block of batch rows) agree with the reference loop, forward and backward, for the cells
they run, on uniform and shrinking batches, both directions, and unit or row counts that do not
split evenly; and with the single-thread sweep in the no-grad stack.

Run: python -m pytest tests/engine/test_native_team.py -q
"""

from __future__ import annotations

import pytest
import torch

import rnnkit
from helpers import assert_close, cifg_step
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


@pytest.fixture(params=[(2, 1), (3, 1), (2, 2), (3, 2)], ids=["units2", "units3", "rows2", "rows3"])
def team(request, forced_team):
    """Each kind of team, with 2 and 3 threads."""
    forced_team(*request.param)
    return request.param


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


ROW_TEAM_LAYERS = {
    "layernorm_lstm": lambda: rnnkit.LayerNormLSTM(4, 11, bidirectional=True),
    "layernorm_gru": lambda: rnnkit.LayerNormGRU(4, 11, num_layers=2),
    "indrnn": lambda: rnnkit.IndRNN(4, 11, nonlinearity="relu", bidirectional=True),
    "lstm_proj": lambda: rnnkit.LSTM(4, 11, proj_size=5, bidirectional=True),
    "compiled_cifg": lambda: rnnkit.Recurrent(
        rnnkit.define_cell("team_cifg", 3, cifg_step, extra_states=1), 4, 11
    ),
}


@pytest.mark.parametrize("threads", [2, 3])
@pytest.mark.parametrize("name", list(ROW_TEAM_LAYERS))
def test_row_team_runs_the_cells_a_units_team_cannot(forced_team, name, threads):
    """Layer norm, IndRNN, a projection, a compiled cell: each row's math is the row team's
    own; with lengths (shrinking blocks) and both directions, forward and backward."""
    torch.manual_seed(0)
    layer = ROW_TEAM_LAYERS[name]().double()
    x = torch.randn(6, 9, 4, dtype=torch.float64)
    lengths = torch.tensor([6, 2, 5, 6, 1, 3, 6, 4, 2])
    results = []
    for backend in ("reference", "native"):
        forced_team(threads, 2)
        xi = x.clone().requires_grad_(True)
        with rnnkit.use_backend(backend):
            out, state = layer(xi, lengths=lengths)
        states = list(state) if isinstance(state, tuple) else [state]
        torch.manual_seed(1)
        loss = sum((t * torch.randn_like(t)).sum() for t in (out, *states))
        results.append([out, *states, *torch.autograd.grad(loss, [xi, *layer.parameters()])])
    for k, (a, b) in enumerate(zip(results[1], results[0], strict=True)):
        assert_close(a, b, f"{name} tensor {k}")


@pytest.fixture
def shared_stream_products():
    """Streaming calls share the input projection among the threads at any W_ih size (the
    no-grad stack's project(); the default is from stream_team_macs = 2^19 weights)."""
    ext = build.load()
    ext.set_stream_team_macs(1)
    yield
    ext.set_stream_team_macs(1 << 19)


@pytest.mark.parametrize("steps", [1, 3])
@pytest.mark.parametrize("name", ["rnn", "gru", "lstm"])
def test_units_team_on_streaming_calls(forced_team, shared_stream_products, name, steps):
    """Calls of fewer than 4 steps share W_hh's rows among a units team with dot products on
    W_hh (no packed copy), and W_ih's columns among the threads for the input projection: the
    no-grad stack and a short training call, vs reference."""
    torch.manual_seed(0)
    layer = getattr(rnnkit, name.upper())(5, 21, num_layers=2, bidirectional=True).double()
    x = torch.randn(steps, 3, 5, dtype=torch.float64)
    forced_team(2, 1)
    with torch.no_grad():
        got = layer(x)
    with torch.no_grad(), rnnkit.use_backend("reference"):
        want = layer(x)
    flat = lambda out: [out[0], *(out[1] if isinstance(out[1], tuple) else (out[1],))]  # noqa: E731
    for a, b in zip(flat(got), flat(want)):
        assert_close(a, b, "no-grad")
    results = []
    for backend in ("native", "reference"):
        xi = x.clone().requires_grad_(True)
        with rnnkit.use_backend(backend):
            outs = flat(layer(xi))
        grads = torch.autograd.grad(sum(o.sum() for o in outs), [xi, *layer.parameters()])
        results.append([*outs, *grads])
    for a, b in zip(*results, strict=True):
        assert_close(a, b, "short training call")


@pytest.mark.parametrize(("layer", "hidden"), [("LSTM", 256), ("GRU", 256), ("RNN", 512)])
def test_one_row_on_two_threads_takes_a_units_team(layer, hidden):
    """B = 1 with 2 threads and a step big enough to share (csrc/team.h plan_team): the plan
    weighed a row team's rows per member as B / 0 and the process died of SIGFPE."""
    threads = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        torch.manual_seed(0)
        model = getattr(rnnkit, layer)(hidden, hidden)
        x = torch.randn(32, 1, hidden, requires_grad=True)
        y, _ = model(x)  # training
        (dx,) = torch.autograd.grad(y.square().sum(), x)
        with torch.no_grad():
            inferred, _ = model(x)  # the no-grad stack
        with rnnkit.use_backend("reference"):
            want, _ = model(x)
            (want_dx,) = torch.autograd.grad(want.square().sum(), x)
    finally:
        torch.set_num_threads(threads)
    assert_close(y, want, "training output")
    assert_close(inferred, want, "no-grad output")
    assert_close(dx, want_dx, "dL/dx")
