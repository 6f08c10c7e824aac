"""Synthetic tasks: data layout, determinism, baselines, cell lookup, and a short training run."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from rnnkit.tasks import synthetic
from rnnkit.tasks.synthetic import (
    CELLS,
    TASKS,
    SynthConfig,
    adding_batch,
    build_model,
    cell_class,
    copy_batch,
    train_synthetic,
)


def _gen(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


@pytest.mark.parametrize("T", [2, 3, 10, 51])
def test_adding_has_two_markers_one_per_half_and_target_is_their_sum(T):
    x, y = adding_batch(T, 64, _gen())
    assert x.shape == (T, 64, 2) and y.shape == (64,)
    values, markers = x[..., 0], x[..., 1]
    assert torch.all((values >= 0) & (values <= 1))
    assert torch.all(markers.sum(0) == 2)
    assert torch.all(markers[: T // 2].sum(0) == 1) and torch.all(markers[T // 2 :].sum(0) == 1)
    torch.testing.assert_close(y, (values * markers).sum(0))


def test_copy_layout_symbols_gap_delimiter_and_targets():
    T, S = 7, synthetic.COPY_SYMBOLS
    tokens, targets = copy_batch(T, 16, _gen())
    assert tokens.shape == targets.shape == (T + 2 * S, 16)
    assert torch.all((tokens[:S] >= 1) & (tokens[:S] <= 8))
    assert torch.all(tokens[S : S + T - 1] == 0)  # T - 1 blanks
    assert torch.all(tokens[S + T - 1] == 9)  # the delimiter
    assert torch.all(tokens[S + T :] == 0)
    assert torch.all(targets[: T + S] == 0)
    assert torch.equal(targets[T + S :], tokens[:S])  # copy after the delimiter


@pytest.mark.parametrize("make", [adding_batch, copy_batch])
def test_same_seed_same_batch_other_seed_other_batch(make):
    a, b, c = make(20, 8, _gen(3)), make(20, 8, _gen(3)), make(20, 8, _gen(4))
    assert all(torch.equal(u, v) for u, v in zip(a, b))
    assert not torch.equal(a[0], c[0])


def test_adding_baseline_of_predicting_one_is_one_sixth():
    _, y = adding_batch(10, 20000, _gen())
    assert F.mse_loss(torch.ones_like(y), y).item() == pytest.approx(1 / 6, abs=0.01)
    assert TASKS["adding"].baseline(10)["mse"] == pytest.approx(1 / 6)


def test_copy_baseline_is_the_memoryless_cross_entropy():
    T = 30
    _, targets = copy_batch(T, 4, _gen())
    logits = torch.full((T + 20, 4, 9), -1e4)
    logits[: T + 10, :, 0] = 0.0  # certain blank during the wait
    logits[T + 10 :, :, 1:] = 0.0  # uniform over the 8 symbols at the copy
    metrics = TASKS["copy"].metrics(logits, targets)
    assert metrics["cross_entropy"] == pytest.approx(10 * math.log(8) / (T + 20), rel=1e-5)
    assert TASKS["copy"].baseline(T)["cross_entropy"] == pytest.approx(metrics["cross_entropy"])


def test_unknown_cell_lists_the_known_ones():
    with pytest.raises(
        ValueError,
        match="unknown cell .lstmm.; expected one of rnn, rnn_relu, lstm, gru, layernorm_lstm",
    ):
        cell_class("lstmm")
    with pytest.raises(ValueError, match="expected T"):
        train_synthetic("adding", "lstm", T=1, steps=1)
    with pytest.raises(ValueError, match="steps > 0"):
        train_synthetic("adding", "lstm", T=4, steps=0)


def test_new_cells_plug_in_through_the_cells_dict(monkeypatch):
    monkeypatch.setitem(CELLS, "torch_gru", (nn.GRU, {}))
    model = build_model("copy", "torch_gru", hidden=3, seed=0)
    assert isinstance(model.rnn, nn.GRU)
    x, _ = TASKS["copy"].batch(4, 2, _gen())
    assert model(x).shape == (24, 2, 9)


def test_same_seed_same_initial_model_and_global_rng_untouched():
    state = torch.random.get_rng_state()
    a, b = build_model("adding", "gru", 4, seed=1), build_model("adding", "gru", 4, seed=1)
    assert torch.equal(torch.random.get_rng_state(), state)
    assert all(torch.equal(p, q) for p, q in zip(a.parameters(), b.parameters()))


@pytest.fixture
def one_thread():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # tiny models: more threads only add synchronization
    yield
    torch.set_num_threads(threads)


@pytest.mark.usefixtures("one_thread")
@pytest.mark.parametrize(("task", "cell"), [("adding", "lstm"), ("copy", "gru")])
def test_short_training_lowers_the_loss(task, cell):
    result = train_synthetic(
        task, cell, T=4, steps=60, hidden=16, batch_size=16, lr=1e-2, seed=0, eval_every=20
    )
    losses = [r["train_loss"] for r in result["history"]]
    assert len(losses) == 3 and losses[-1] < losses[0]
    assert result["steps_run"] == 60 and set(result["final"]) >= {result["metric"]}
    fields = {"steps_run", "final", "solved", "steps_to_solve", "seconds", "cpu_seconds"}
    assert set(result) >= fields | {"backend", "history"}


def test_forget_bias_reaches_the_lstm_and_is_refused_for_cells_without_a_forget_gate():
    model = build_model("adding", "lstm", 4, seed=0, forget_bias=1.0)
    H = 4
    b = model.rnn.bias_ih_l0 + model.rnn.bias_hh_l0  # gates (i, f, g, o)
    assert torch.allclose(b[H : 2 * H], torch.ones(H))
    with pytest.raises(ValueError, match="forget_bias needs a cell with a forget gate.*'gru'"):
        SynthConfig(cell="gru", forget_bias=1.0)


def test_chrono_reaches_the_lstm_and_bad_values_are_refused():
    model = build_model("adding", "lstm", 4, seed=0, chrono=100)
    H = 4
    b = (model.rnn.bias_ih_l0 + model.rnn.bias_hh_l0).detach()  # gates (i, f, g, o)
    assert torch.equal(b[:H], -b[H : 2 * H]) and b[H : 2 * H].min() >= 0
    with pytest.raises(ValueError, match="chrono needs a cell with a forget gate"):
        SynthConfig(cell="gru", chrono=100)
    with pytest.raises(ValueError, match="pass one"):
        SynthConfig(cell="lstm", chrono=100, forget_bias=1.0)
    with pytest.raises(ValueError, match="int >= 3, got 1"):
        SynthConfig(cell="lstm", chrono=1)
