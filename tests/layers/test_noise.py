"""Zoneout and variational (recurrent / input) dropout: fused engine == reference loop with the
same masks, the documented expectation in eval mode, and the options' validation."""

from __future__ import annotations

import pytest
import torch

import rnnkit
from helpers import assert_close, weighted_sum

CLASSES = [rnnkit.RNN, rnnkit.GRU, rnnkit.LSTM, rnnkit.LayerNormLSTM, rnnkit.IndRNN]


@pytest.mark.parametrize("cls", CLASSES, ids=lambda c: c.__name__)
@pytest.mark.parametrize("lengths", [None, torch.tensor([5, 2, 4])])
def test_fused_equals_reference_with_the_same_masks(cls, lengths):
    layer = cls(
        3, 4, num_layers=2, bidirectional=True, dtype=torch.float64,
        zoneout=(0.3, 0.2), recurrent_dropout=0.25, input_dropout=0.1,
    )  # fmt: skip
    x = torch.randn(5, 3, 3, dtype=torch.float64)
    results = []
    for backend in ("reference", "fused"):
        torch.manual_seed(7)  # same masks for both backends
        xi = x.clone().requires_grad_(True)
        with rnnkit.use_backend(backend):
            out, state = layer(xi, lengths=lengths)
        finals = list(state) if isinstance(state, tuple) else [state]
        grads = torch.autograd.grad(weighted_sum([out, *finals]), [xi, *layer.parameters()])
        results.append([out, *finals, *grads])
    for a, b in zip(results[1], results[0], strict=True):
        assert_close(a, b, "noisy fused vs reference")


def test_zoneout_one_keeps_the_initial_state_and_eval_uses_the_expectation():
    layer = rnnkit.GRU(3, 4, zoneout=0.5, dtype=torch.float64)
    x = torch.randn(6, 2, 3, dtype=torch.float64)
    h0 = torch.randn(1, 2, 4, dtype=torch.float64)
    layer.eval()
    out, _ = layer(x, h0)
    plain = rnnkit.GRU(3, 4, dtype=torch.float64)
    plain.load_state_dict(layer.state_dict())
    h = h0[0]
    for t in range(6):  # eval: h_t = 0.5·h_{t-1} + 0.5·GRU(x_t, h_{t-1})
        _, h_cell = plain(x[t : t + 1], h[None])
        h = 0.5 * h + 0.5 * h_cell[0]
        assert_close(out[t], h, f"eval zoneout step {t}")


def test_masks_are_random_in_training_and_absent_in_eval():
    layer = rnnkit.LSTM(3, 4, zoneout=0.3, recurrent_dropout=0.3, input_dropout=0.3)
    x = torch.randn(5, 2, 3)
    assert not torch.equal(layer(x)[0], layer(x)[0])
    layer.eval()
    assert torch.equal(layer(x)[0], layer(x)[0])


@pytest.mark.parametrize(
    "kwargs,match",
    [
        ({"zoneout": 1.0}, r"zoneout in \[0, 1\), got 1.0"),
        ({"zoneout": (0.1, -0.1)}, r"zoneout in \[0, 1\), got -0.1"),
        ({"recurrent_dropout": 1.5}, r"recurrent_dropout in \[0, 1\), got 1.5"),
        ({"input_dropout": "a"}, r"input_dropout in \[0, 1\), got 'a'"),
    ],
)
def test_bad_rates_name_the_option_and_range(kwargs, match):
    with pytest.raises(ValueError, match=match):
        rnnkit.LSTM(3, 4, **kwargs)


def test_native_backend_declines_noise():
    if "native" not in rnnkit.BACKENDS:
        pytest.skip("no native backend in this build")
    layer = rnnkit.GRU(3, 4, zoneout=0.2)
    with rnnkit.use_backend("native"), pytest.raises(NotImplementedError, match="zoneout"):
        layer(torch.randn(4, 2, 3))
