"""rnnkit.RNN / LSTM / GRU equal torch.nn's with copied weights: outputs, final states and the
gradients of the input, the initial state and every parameter, over the full option grid."""

from __future__ import annotations

import itertools

import pytest
import torch
from torch.nn.utils.rnn import PackedSequence, pack_padded_sequence, pad_packed_sequence

import rnnkit
from helpers import assert_close, copy_weights, weighted_sum

T, B, I, H, P = 6, 4, 3, 5, 2
LENGTHS = [3, 6, 1, 4]  # unsorted on purpose, includes a length-1 and a full-length sequence
CELLS = {  # name -> (torch class, rnnkit class, extra kwargs)
    "rnn": (torch.nn.RNN, rnnkit.RNN, {}),
    "rnn_relu": (torch.nn.RNN, rnnkit.RNN, {"nonlinearity": "relu"}),
    "gru": (torch.nn.GRU, rnnkit.GRU, {}),
    "lstm": (torch.nn.LSTM, rnnkit.LSTM, {}),
    "lstm_proj": (torch.nn.LSTM, rnnkit.LSTM, {"proj_size": P}),
}
MODES = ["padded", "initial_state", "packed", "lengths", "unbatched"]


def make_pair(cell, num_layers, bidirectional, batch_first, bias, dtype):
    torch_cls, our_cls, extra = CELLS[cell]
    kwargs = dict(
        num_layers=num_layers,
        bidirectional=bidirectional,
        batch_first=batch_first,
        bias=bias,
        dtype=dtype,
        **extra,
    )
    ref = torch_cls(I, H, **kwargs)
    ours = our_cls(I, H, **kwargs)
    copy_weights(ref, ours)
    return ref, ours


def make_state(ref, batched, dtype, seed):
    """Random (h_0[, c_0]) of torch's shapes, requiring grad."""
    g = torch.Generator().manual_seed(seed)
    LD = ref.num_layers * (2 if ref.bidirectional else 1)
    widths = [ref.proj_size or H] + ([H] if isinstance(ref, torch.nn.LSTM) else [])
    shapes = [(LD, B, w) if batched else (LD, w) for w in widths]
    states = [torch.randn(s, generator=g, dtype=torch.float64).to(dtype) for s in shapes]
    for s in states:
        s.requires_grad_(True)
    return states


def as_hx(module, states):
    if not states:
        return None
    return tuple(states) if isinstance(module, torch.nn.LSTM) else states[0]


def run(module, mode, x, states, batch_first, ours):
    """Forward ``module`` in ``mode``; returns (output tensor, final state tensors)."""
    hx = as_hx(module, states) if not ours else as_hx(_torch_twin(module), states)
    lengths = torch.tensor(LENGTHS)
    if mode == "packed":
        packed = pack_padded_sequence(x, lengths, batch_first=batch_first, enforce_sorted=False)
        out, hn = module(packed, hx)
        assert isinstance(out, PackedSequence)
        out = out.data
    elif mode == "lengths" and ours:
        out, hn = module(x, hx, lengths=lengths)
    elif mode == "lengths":
        packed = pack_padded_sequence(x, lengths, batch_first=batch_first, enforce_sorted=False)
        out, hn = module(packed, hx)
        out, _ = pad_packed_sequence(out, batch_first=batch_first, total_length=T)
    else:
        out, hn = module(x, hx)
    return out, list(hn) if isinstance(hn, tuple) else [hn]


def _torch_twin(module):
    """Class whose hx convention ``module`` follows (LSTMs take tuples)."""
    return torch.nn.LSTM(1, 1) if isinstance(module, rnnkit.LSTM) else torch.nn.GRU(1, 1)


GRID = list(
    itertools.product(
        CELLS, [1, 2, 3], [False, True], [False, True], [True, False], MODES, ["f64", "f32"]
    )
)


@pytest.mark.parametrize(
    "cell,num_layers,bidirectional,batch_first,bias,mode,dt",
    GRID,
    ids=["-".join(map(str, p)) for p in GRID],
)
def test_layer_matches_torch(cell, num_layers, bidirectional, batch_first, bias, mode, dt):
    dtype = {"f64": torch.float64, "f32": torch.float32}[dt]
    torch.manual_seed(0)
    ref, ours = make_pair(cell, num_layers, bidirectional, batch_first, bias, dtype)
    batched = mode != "unbatched"
    shape = ((B, T, I) if batch_first else (T, B, I)) if batched else (T, I)
    x = torch.randn(shape, dtype=torch.float64).to(dtype)
    results = []
    for module, is_ours in ((ref, False), (ours, True)):
        xi = x.clone().requires_grad_(True)
        states = make_state(ref, batched, dtype, seed=1) if mode != "padded" else []
        out, finals = run(module, mode, xi, states, batch_first, is_ours)
        loss = weighted_sum([out, *finals])
        params = list(module.parameters())
        grads = torch.autograd.grad(loss, [xi, *states, *params])
        results.append((out, finals, grads))
    (out_r, fin_r, grads_r), (out_o, fin_o, grads_o) = results
    assert_close(out_o, out_r, "output")
    for k, (a, b) in enumerate(zip(fin_o, fin_r, strict=True)):
        assert_close(a, b, f"final state {k}")
    names = ["input"] + [
        f"state {k}" for k in range(len(grads_r) - 1 - len(list(ref.parameters())))
    ]
    names += [n for n, _ in ref.named_parameters()]
    for name, a, b in zip(names, grads_o, grads_r, strict=True):
        assert_close(a, b, f"grad of {name}")


@pytest.mark.parametrize("cell", list(CELLS))
@pytest.mark.parametrize("lengths", [[4, 4, 4, 4], [2], [6, 6, 6, 6]], ids=["equal", "b1", "full"])
@pytest.mark.parametrize("batch_first", [False, True])
def test_equal_lengths_match_torch_packed(cell, lengths, batch_first):
    """Equal lengths L < T run as a plain batch of L steps, zeros after: the same output,
    final states and gradients as torch.nn on the packed sequences."""
    torch.manual_seed(0)
    ref, ours = make_pair(cell, 2, True, batch_first, True, torch.float64)
    n = len(lengths)
    x = torch.randn((n, T, I) if batch_first else (T, n, I), dtype=torch.float64)
    lens = torch.tensor(lengths)
    results = []
    for module, is_ours in ((ref, False), (ours, True)):
        xi = x.clone().requires_grad_(True)
        if is_ours:
            out, hn = module(xi, lengths=lens)
        else:
            packed = pack_padded_sequence(xi, lens, batch_first=batch_first, enforce_sorted=False)
            out, hn = module(packed)
            out, _ = pad_packed_sequence(out, batch_first=batch_first, total_length=T)
        finals = list(hn) if isinstance(hn, tuple) else [hn]
        loss = weighted_sum([out, *finals])
        results.append([out, *finals, *torch.autograd.grad(loss, [xi, *module.parameters()])])
    for k, (a, b) in enumerate(zip(results[1], results[0], strict=True)):
        assert_close(a, b, f"tensor {k}")
