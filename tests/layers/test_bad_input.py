"""Bad input raises a clear ValueError / TypeError naming what was expected and what came,
before any work is done."""

from __future__ import annotations

import pytest
import torch
from torch.nn.utils.rnn import PackedSequence, pack_padded_sequence

import rnnkit

T, B, I, H = 7, 5, 32, 20


@pytest.fixture
def lstm():
    return rnnkit.LSTM(I, H, num_layers=2)


@pytest.fixture
def gru():
    return rnnkit.GRU(I, H, num_layers=2)


def x(shape=(T, B, I), dtype=torch.float32):
    return torch.randn(shape).to(dtype)


def test_wrong_feature_size_names_both(lstm):
    with pytest.raises(ValueError, match="expected input feature size 32, got 30"):
        lstm(x((T, B, 30)))


def test_wrong_rank_names_accepted_shapes(lstm):
    with pytest.raises(ValueError, match=r"\(T, B, 32\).*got \(7, 5, 32, 1\)"):
        lstm(x((T, B, I, 1)))


def test_batch_first_is_named_in_shape_error():
    gru = rnnkit.GRU(I, H, batch_first=True)
    with pytest.raises(ValueError, match="batch_first=True"):
        gru(x((B, T, 3)))


def test_lstm_given_a_tensor_instead_of_tuple(lstm):
    with pytest.raises(TypeError, match=r"expects hx = \(h_0, c_0\).*got Tensor"):
        lstm(x(), torch.zeros(2, B, H))


def test_lstm_given_wrong_count_of_states(lstm):
    with pytest.raises(TypeError, match="tuple of 2 tensors"):
        lstm(x(), (torch.zeros(2, B, H),))


def test_gru_given_a_tuple(gru):
    with pytest.raises(TypeError, match="expects hx = h_0, a tensor; got tuple"):
        gru(x(), (torch.zeros(2, B, H),))


def test_wrong_state_shape_names_expected(gru):
    with pytest.raises(ValueError, match=r"h_0 of shape .* = \(2, 5, 20\), got \(1, 5, 20\)"):
        gru(x(), torch.zeros(1, B, H))


def test_batch_mismatch_between_input_and_state(lstm):
    with pytest.raises(ValueError, match="batch size 4 does not match the input's 5"):
        lstm(x(), (torch.zeros(2, 4, H), torch.zeros(2, 4, H)))


def test_wrong_cell_state_shape(lstm):
    with pytest.raises(ValueError, match=r"c_0 of shape .* = \(2, 5, 20\), got \(2, 5, 19\)"):
        lstm(x(), (torch.zeros(2, B, H), torch.zeros(2, B, H - 1)))


def test_unbatched_input_with_batched_state(gru):
    with pytest.raises(ValueError, match=r"= \(2, 20\), got \(2, 1, 20\)"):
        gru(x((T, I)), torch.zeros(2, 1, H))


def test_non_floating_input(lstm):
    with pytest.raises(TypeError, match="floating-point input, got dtype torch.int64"):
        lstm(torch.ones(T, B, I, dtype=torch.int64))


def test_input_dtype_different_from_weights(lstm):
    with pytest.raises(TypeError, match="dtype torch.float32 .* got torch.float64"):
        lstm(x(dtype=torch.float64))


def test_state_dtype_different_from_weights(gru):
    with pytest.raises(TypeError, match="h_0 of dtype torch.float32"):
        gru(x(), torch.zeros(2, B, H, dtype=torch.float64))


def test_not_a_tensor(lstm):
    with pytest.raises(TypeError, match="Tensor or PackedSequence, got list"):
        lstm([[1.0]])


def test_zero_time_steps(lstm):
    with pytest.raises(ValueError, match="at least one time step, got T = 0"):
        lstm(x((0, B, I)))


@pytest.mark.parametrize(
    "lengths,match",
    [
        (torch.tensor([[3, 3, 3, 3, 3]]), r"lengths of shape \(B,\) = \(5,\).*got \(1, 5\)"),
        (torch.tensor([3, 3, 3]), r"lengths of shape \(B,\) = \(5,\).*got \(3,\)"),
        (torch.tensor([3, 0, 3, 3, 3]), r"lengths in \[1, T\] = \[1, 7\], got values from 0"),
        (torch.tensor([3, 8, 3, 3, 3]), r"lengths in \[1, T\] = \[1, 7\], got .* to 8"),
    ],
)
def test_bad_lengths_values(lstm, lengths, match):
    with pytest.raises(ValueError, match=match):
        lstm(x(), lengths=lengths)


def test_float_lengths(lstm):
    with pytest.raises(TypeError, match="integer lengths, got dtype torch.float32"):
        lstm(x(), lengths=torch.full((B,), 3.0))


def test_lengths_with_packed_input(lstm):
    packed = pack_padded_sequence(x(), torch.full((B,), T), enforce_sorted=False)
    with pytest.raises(ValueError, match="both a PackedSequence and lengths"):
        lstm(packed, lengths=torch.full((B,), T))


def test_packed_data_that_its_batch_sizes_do_not_count(lstm):
    packed = pack_padded_sequence(x(), torch.full((B,), T), enforce_sorted=False)
    short = PackedSequence(packed.data[:-1], packed.batch_sizes, packed.sorted_indices,
                           packed.unsorted_indices)  # fmt: skip
    match = rf"PackedSequence data of {B * T} rows \(the sum of its batch_sizes\), got {B * T - 1}"
    with pytest.raises(ValueError, match=match):
        lstm(short)


def test_lengths_with_unbatched_input(lstm):
    with pytest.raises(ValueError, match="lengths with an unbatched input"):
        lstm(x((T, I)), lengths=torch.tensor([T]))


@pytest.mark.parametrize(
    "make,err,match",
    [
        (lambda: rnnkit.RNN(3, 4, nonlinearity="sigmoid"), ValueError, "'tanh' or 'relu'"),
        (lambda: rnnkit.LSTM(3, 4, proj_size=4), ValueError, "proj_size < hidden_size"),
        (lambda: rnnkit.GRU(3, 4, proj_size=2), ValueError, "no projection; expected proj_size=0"),
        (lambda: rnnkit.LSTM(3, 4, dropout=1.5), ValueError, r"dropout to be a number in \[0, 1\]"),
        (lambda: rnnkit.LSTM(3, 0), ValueError, "hidden_size >= 1, got 0"),
        (lambda: rnnkit.LSTM(3, 4.0), TypeError, "hidden_size to be an int, got float"),
        (lambda: rnnkit.GRU(3, 4, num_layers=0), ValueError, "num_layers >= 1, got 0"),
    ],
)
def test_bad_constructor_arguments(make, err, match):
    with pytest.raises(err, match=match):
        make()


def test_errors_leave_module_untouched(lstm):
    before = {k: v.clone() for k, v in lstm.state_dict().items()}
    with pytest.raises(ValueError):
        lstm(x((T, B, 30)))
    assert all(torch.equal(before[k], v) for k, v in lstm.state_dict().items())


@pytest.mark.parametrize(
    "cell,args,err,match",
    [
        (rnnkit.LSTMCell, (torch.randn(B, 3),), ValueError, r"shape \(B, 32\) or \(32,\)"),
        (rnnkit.GRUCell, (torch.randn(B, I), (torch.zeros(B, H),)), TypeError, "got tuple"),
        (rnnkit.LSTMCell, (torch.randn(B, I), torch.zeros(B, H)), TypeError, "got Tensor"),
        (rnnkit.RNNCell, (torch.randn(B, I), torch.zeros(B + 1, H)), ValueError, "batch size 6"),
        (rnnkit.RNNCell, (torch.randn(B, I).double(),), TypeError, "dtype torch.float32"),
    ],
)
def test_cell_bad_input(cell, args, err, match):
    with pytest.raises(err, match=match):
        cell(I, H)(*args)
