"""Drop-in compatibility with torch.nn: initialization, state_dict both ways, attributes,
dropout between layers, dtypes and a model that swaps torch.nn.LSTM for rnnkit.LSTM."""

from __future__ import annotations

import pytest
import torch

import rnnkit
from helpers import assert_close
from rnnkit.engine import precision

PAIRS = {
    "rnn": (torch.nn.RNN, rnnkit.RNN, {"nonlinearity": "relu"}),
    "gru": (torch.nn.GRU, rnnkit.GRU, {}),
    "lstm": (torch.nn.LSTM, rnnkit.LSTM, {}),
    "lstm_proj": (torch.nn.LSTM, rnnkit.LSTM, {"proj_size": 3}),
}
KW = {"num_layers": 2, "bidirectional": True}


@pytest.mark.parametrize("name", PAIRS)
def test_same_seed_gives_same_parameters_and_names(name):
    torch_cls, our_cls, extra = PAIRS[name]
    torch.manual_seed(7)
    ref = torch_cls(4, 6, **KW, **extra)
    torch.manual_seed(7)
    ours = our_cls(4, 6, **KW, **extra)
    assert list(ours.state_dict()) == list(ref.state_dict())
    for key, value in ref.state_dict().items():
        assert torch.equal(ours.state_dict()[key], value), key
    assert ours._flat_weights_names == ref._flat_weights_names
    assert [[tuple(p.shape) for p in ws] for ws in ours.all_weights] == [
        [tuple(p.shape) for p in ws] for ws in ref.all_weights
    ]
    assert repr(ours) == repr(ref)


@pytest.mark.parametrize("name", PAIRS)
@pytest.mark.parametrize("direction", ["torch_to_rnnkit", "rnnkit_to_torch"])
def test_state_dict_round_trip(name, direction):
    torch_cls, our_cls, extra = PAIRS[name]
    ref, ours = torch_cls(4, 6, **KW, **extra), our_cls(4, 6, **KW, **extra)
    src, dst = (ref, ours) if direction == "torch_to_rnnkit" else (ours, ref)
    dst.load_state_dict(src.state_dict(), strict=True)
    x = torch.randn(5, 2, 4)
    (y_src, _), (y_dst, _) = src(x), dst(x)
    assert_close(y_dst, y_src, "output after load_state_dict")


def test_swap_into_an_existing_model():
    """A user's model built around nn.LSTM runs unchanged with rnnkit.LSTM in its place."""

    class Tagger(torch.nn.Module):
        def __init__(self, lstm_cls):
            super().__init__()
            self.embed = torch.nn.Embedding(20, 8)
            self.lstm = lstm_cls(8, 16, num_layers=2, batch_first=True, bidirectional=True)
            self.head = torch.nn.Linear(32, 5)

        def forward(self, tokens):
            self.lstm.flatten_parameters()
            out, (_h, _c) = self.lstm(self.embed(tokens))
            return self.head(out)

    ref, ours = Tagger(torch.nn.LSTM), Tagger(rnnkit.LSTM)
    ours.load_state_dict(ref.state_dict())
    tokens = torch.randint(0, 20, (3, 7))
    assert_close(ours(tokens), ref(tokens), "tagger logits")
    opt = torch.optim.SGD(ours.parameters(), lr=0.1)
    loss = torch.nn.functional.cross_entropy(ours(tokens).flatten(0, 1), tokens.flatten() % 5)
    loss.backward()
    opt.step()


@pytest.mark.parametrize("name", PAIRS)
def test_dropout_one_zeroes_the_input_of_upper_layers_like_torch(name):
    """With p=1 in training mode the dropout between layers is deterministic: compare exactly."""
    torch_cls, our_cls, extra = PAIRS[name]
    ref = torch_cls(4, 6, num_layers=3, dropout=1.0, dtype=torch.float64, **extra)
    ours = our_cls(4, 6, num_layers=3, dropout=1.0, dtype=torch.float64, **extra)
    ours.load_state_dict(ref.state_dict())
    x = torch.randn(5, 2, 4, dtype=torch.float64)
    (y_ref, _), (y_ours, _) = ref(x), ours(x)
    assert_close(y_ours, y_ref, "output with dropout=1")
    ref.eval()
    ours.eval()
    (y_ref_eval, _), (y_ours_eval, _) = ref(x), ours(x)
    assert_close(y_ours_eval, y_ref_eval, "output in eval mode")
    assert not torch.allclose(y_ours_eval, y_ours)


def test_dropout_is_random_in_training_and_off_in_eval():
    lstm = rnnkit.LSTM(4, 6, num_layers=2, dropout=0.5)
    x = torch.randn(5, 2, 4)
    assert not torch.equal(lstm(x)[0], lstm(x)[0])
    lstm.eval()
    assert torch.equal(lstm(x)[0], lstm(x)[0])


def test_dropout_with_one_layer_warns_like_torch():
    with pytest.warns(UserWarning, match="num_layers=1"):
        rnnkit.GRU(3, 4, dropout=0.2)


@pytest.mark.parametrize("name", PAIRS)
def test_bfloat16_runs_close_to_float32(name):
    _, our_cls, extra = PAIRS[name]
    ours = our_cls(4, 6, **extra)
    x = torch.randn(5, 2, 4)
    y32, _ = ours(x)
    ours16 = our_cls(4, 6, dtype=torch.bfloat16, **extra)
    ours16.load_state_dict(ours.state_dict())
    y16, _ = ours16(x.bfloat16())
    y16.float().sum().backward()
    assert y16.dtype == torch.bfloat16
    assert (y16.float() - y32).abs().max() < 0.05
    assert all(p.grad is not None and p.grad.dtype == torch.bfloat16 for p in ours16.parameters())


def test_module_to_float64_converts_like_torch():
    ours = rnnkit.LSTM(3, 4).double()
    y, (h, c) = ours(torch.randn(2, 1, 3, dtype=torch.float64))
    assert y.dtype == h.dtype == c.dtype == torch.float64


def test_nan_in_input_propagates_like_torch():
    ref, ours = torch.nn.GRU(3, 4), rnnkit.GRU(3, 4)
    ours.load_state_dict(ref.state_dict())
    x = torch.randn(4, 2, 3)
    x[1, 0, 0] = float("nan")
    (y_ref, _), (y_ours, _) = ref(x), ours(x)
    assert torch.equal(torch.isnan(y_ours), torch.isnan(y_ref))
    assert torch.isnan(y_ours[1:, 0]).all() and not torch.isnan(y_ours[:, 1]).any()


@pytest.mark.parametrize(
    ("torch_cls", "our_cls", "args"),
    [
        (torch.nn.RNN, rnnkit.RNN, (4, 6, 2, "relu", False, True, 0.0, True)),
        (torch.nn.LSTM, rnnkit.LSTM, (4, 6, 2, False, True, 0.0, True, 3)),
        (torch.nn.GRU, rnnkit.GRU, (4, 6, 2, False, True, 0.0, True)),
    ],
)
def test_positional_arguments_mean_what_they_mean_in_torch(torch_cls, our_cls, args):
    ref, ours = torch_cls(*args), our_cls(*args)
    names = ("mode", "num_layers", "bias", "batch_first", "bidirectional", "proj_size")
    assert {n: getattr(ours, n) for n in names} == {n: getattr(ref, n) for n in names}
    assert list(ours.state_dict()) == list(ref.state_dict())


def test_the_constructor_is_written_once():
    from rnnkit.layers import MinRNNBase, RNNBase

    for cls in (rnnkit.LSTM, rnnkit.GRU, rnnkit.LayerNormLSTM, rnnkit.LayerNormGRU):
        assert cls.__init__ is RNNBase.__init__
    assert rnnkit.PeepholeLSTM.__init__ is RNNBase.__init__
    assert rnnkit.MinGRU.__init__ is rnnkit.MinLSTM.__init__ is MinRNNBase.__init__


@pytest.mark.parametrize("in_dtype", [torch.float32, torch.bfloat16])
@pytest.mark.parametrize("name", ["rnn", "gru", "lstm", "lstm_proj"])
def test_autocast_returns_torch_dtypes_and_keeps_the_recurrence_in_float32(
    monkeypatch, name, in_dtype
):
    """Under autocast: torch.nn's output dtypes; with float32 GEMMs (a CPU without native
    bfloat16) exactly the float32 results, gradients in float32; with bfloat16 GEMMs
    (engine/precision.py) within bfloat16 rounding of them."""
    torch_cls, our_cls, extra = PAIRS[name]
    torch.manual_seed(0)
    ref, ours = torch_cls(4, 6, **KW, **extra), our_cls(4, 6, **KW, **extra)
    ours.load_state_dict(ref.state_dict())
    x = torch.randn(5, 2, 4).to(in_dtype)
    y32, _ = ours(x.float())  # the same math in float32, outside autocast
    grads32 = torch.autograd.grad(y32.sum(), list(ours.parameters()))
    for gemm in (None, torch.bfloat16):
        monkeypatch.setattr(precision, "lowers_to", lambda device, dtype, gemm=gemm: gemm)
        with torch.autocast("cpu", dtype=torch.bfloat16):
            y_ref, _ = ref(x)
            y, state = ours(x)
        assert y.dtype == y_ref.dtype
        h_n = state[0] if isinstance(state, tuple) else state
        assert h_n.dtype == y_ref.dtype
        torch.testing.assert_close(y.float(), y_ref.float(), rtol=0.05, atol=0.02)
        grads = torch.autograd.grad(y.float().sum(), list(ours.parameters()))
        assert all(g.dtype == torch.float32 for g in grads)
        if gemm is None:
            torch.testing.assert_close(y, y32.to(y.dtype), rtol=0, atol=0)
            for g, g32 in zip(grads, grads32):
                torch.testing.assert_close(g, g32, rtol=0, atol=0)
            continue
        # bfloat16 products: relative error of each tensor as a whole; the ReLU RNN's gradients
        # are left out (a unit near 0 flips under rounding and moves its gradients far)
        assert (y.float() - y32).norm() <= 0.02 * y32.norm()
        for g, g32 in zip(grads, grads32):
            assert (g - g32).norm() <= 0.05 * g32.norm() or extra.get("nonlinearity") == "relu"


def test_autocast_takes_a_packed_sequence_like_torch():
    torch.manual_seed(0)
    ref, ours = torch.nn.LSTM(4, 6), rnnkit.LSTM(4, 6)
    ours.load_state_dict(ref.state_dict())
    packed = torch.nn.utils.rnn.pack_padded_sequence(torch.randn(5, 2, 4), torch.tensor([5, 3]))
    with torch.autocast("cpu", dtype=torch.bfloat16):
        y_ref, _ = ref(packed)
        y, _ = ours(packed)
    assert isinstance(y, torch.nn.utils.rnn.PackedSequence)
    assert y.data.dtype == y_ref.data.dtype
    torch.testing.assert_close(y.data.float(), y_ref.data.float(), rtol=0.05, atol=0.02)
