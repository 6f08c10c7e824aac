"""gradient_flow: per-step ‖dL/dh_t‖ against a hand-written loop, and the unrolled forward
against the module's own, for rnnkit and torch.nn layers."""

from __future__ import annotations

import json

import pytest
import torch
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence

import rnnkit
from rnnkit.diagnostics import gradient_flow
from rnnkit.diagnostics.unroll import recurrent_modules, unrolled

T, B, I, H = 6, 3, 2, 4
CELL_OF = {rnnkit.RNN: nn.RNNCell, rnnkit.LSTM: nn.LSTMCell, rnnkit.GRU: nn.GRUCell}


def _layer(cls, scale: float = 1.0, **kw) -> nn.Module:
    torch.manual_seed(0)
    layer = cls(I, H, **kw).double()
    with torch.no_grad():
        for p in layer.parameters():
            p.mul_(scale)
    return layer


def _x(seed: int = 1) -> torch.Tensor:
    return torch.randn(T, B, I, dtype=torch.float64, generator=torch.Generator().manual_seed(seed))


def _leaves(out) -> list[torch.Tensor]:
    """(output, h_n) or (output, (h_n, c_n)) -> [output, h_n, (c_n)]."""
    return [t for item in out for t in (item if isinstance(item, tuple) else (item,))]


def _last_step_loss(out) -> torch.Tensor:
    y = out[0] if isinstance(out, tuple) else out  # (T, B, D*H)
    r = torch.linspace(-1, 1, y.shape[-1], dtype=y.dtype)
    return (y[-1] * r).sum() ** 2


@pytest.mark.parametrize("cls", [rnnkit.RNN, rnnkit.LSTM, rnnkit.GRU])
def test_grad_norms_equal_autograd_on_a_hand_written_loop(cls):
    layer, x = _layer(cls, scale=0.5), _x()
    cell = CELL_OF[cls](I, H).double()
    cell.load_state_dict({k.removesuffix("_l0"): v for k, v in layer.state_dict().items()})
    h, hs = None, []  # h_t of every step as its own graph node
    for t in range(T):
        h = cell(x[t], h)
        hs.append(h)
    hidden = [s[0] if isinstance(s, tuple) else s for s in hs]  # LSTMCell returns (h, c)
    loss = _last_step_loss(hidden[-1].unsqueeze(0))
    expected = torch.stack([g.norm() for g in torch.autograd.grad(loss, hidden)])
    report = gradient_flow(layer, x, _last_step_loss)
    (flow,) = report.layers
    assert flow.grad_norm.shape == (T,)
    torch.testing.assert_close(flow.grad_norm, expected, rtol=1e-10, atol=1e-14)
    assert report.loss == pytest.approx(loss.item(), rel=1e-12)
    assert (flow.cell_grad_norm is not None) == (cls is rnnkit.LSTM)


def test_vanilla_rnn_with_small_W_hh_hears_the_last_step_more_than_the_first():
    layer = _layer(rnnkit.RNN)
    with torch.no_grad():
        layer.weight_hh_l0.mul_(0.1)
    flow = gradient_flow(layer, _x(), _last_step_loss).layers[0]
    assert flow.grad_norm[-1] > 100 * flow.grad_norm[0]
    assert flow.ratio() < 1e-2
    assert torch.all(flow.grad_norm[1:] >= flow.grad_norm[:-1])  # monotone towards the loss


STACKED = [
    (cls, kw)
    for cls in (rnnkit.LSTM, rnnkit.GRU, rnnkit.RNN, nn.LSTM, nn.GRU)
    for kw in (
        {"num_layers": 2, "bidirectional": True},
        {"num_layers": 3, "batch_first": True},
        {"num_layers": 2, "proj_size": 3} if cls in (rnnkit.LSTM, nn.LSTM) else {},
    )
]


@pytest.mark.parametrize(("cls", "kw"), STACKED)
def test_unrolled_forward_equals_the_module_forward(cls, kw):
    layer, x = _layer(cls, **kw), _x()
    if kw.get("batch_first"):
        x = x.transpose(0, 1)
    D = 2 if kw.get("bidirectional") else 1
    L = kw.get("num_layers", 1)
    hx = torch.randn(L * D, B, kw.get("proj_size") or H, dtype=torch.float64)
    if cls in (rnnkit.LSTM, nn.LSTM):
        hx = (hx, torch.randn(L * D, B, H, dtype=torch.float64))
    expected = layer(x, hx)
    with unrolled(recurrent_modules(layer)):
        actual = layer(x, hx)
    assert "forward" not in layer.__dict__
    for a, e in zip(_leaves(actual), _leaves(expected), strict=True):
        torch.testing.assert_close(a, e, rtol=1e-10, atol=1e-12)
    report = gradient_flow(layer, (x, hx), lambda out: out[0].pow(2).sum())
    assert [f.layer for f in report.layers] == list(range(L))
    for flow in report.layers:
        assert flow.grad_norm_per_direction.shape == (D, T)
        assert len(flow.spectra) == D


def test_lengths_and_packed_input_match_and_padding_steps_count_zero():
    layer, x = _layer(rnnkit.GRU, bidirectional=True), _x()
    lengths = torch.tensor([6, 4, 2])
    expected = layer(x, lengths=lengths)
    with unrolled(recurrent_modules(layer)):
        actual = layer(x, lengths=lengths)
    torch.testing.assert_close(actual[0], expected[0], rtol=1e-10, atol=1e-12)
    torch.testing.assert_close(actual[1], expected[1], rtol=1e-10, atol=1e-12)
    packed = pack_padded_sequence(x, lengths, enforce_sorted=False)
    flow = gradient_flow(layer, packed, lambda out: out[1].pow(2).sum()).layers[0]
    by_lengths = gradient_flow(layer, (x, None, lengths), lambda out: out[1].pow(2).sum()).layers[0]
    torch.testing.assert_close(flow.grad_norm, by_lengths.grad_norm, rtol=1e-10, atol=1e-14)
    assert torch.all(flow.grad_norm > 0)  # every step is within the longest sequence


def test_torch_modules_inside_a_model_are_found_by_type_and_grads_left_alone():
    model = nn.Sequential()
    model.add_module("enc", nn.GRU(I, H, batch_first=True))
    report = gradient_flow(model[0], torch.randn(B, T, I), lambda out: out[0][:, -1].sum())
    assert [f.name for f in report.layers] == ["GRU.l0"]
    assert all(p.grad is None for p in model.parameters())
    json.dumps(report.to_dict())  # JSON-ready
    assert set(report.ratio()) == {"GRU.l0"}


def test_model_without_recurrent_layer_is_an_error():
    with pytest.raises(ValueError, match="no recurrent layer"):
        gradient_flow(nn.Linear(2, 2), torch.randn(3, 2), lambda out: out.sum())
