"""On CUDA the engine runs the same torch ops: rnnkit on the GPU equals torch.nn on the CPU.

Skipped on machines without a CUDA device (CI); run on a GPU machine when one is at hand.
"""

from __future__ import annotations

import itertools

import pytest
import torch
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

import rnnkit
from helpers import assert_close, weighted_sum

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")

PAIRS = {
    "rnn": (torch.nn.RNN, rnnkit.RNN, {}),
    "gru": (torch.nn.GRU, rnnkit.GRU, {}),
    "lstm": (torch.nn.LSTM, rnnkit.LSTM, {}),
    "lstm_proj": (torch.nn.LSTM, rnnkit.LSTM, {"proj_size": 3}),
}


@pytest.mark.parametrize(
    "name,lengths,backend", list(itertools.product(PAIRS, [False, True], ["auto", "reference"]))
)
def test_cuda_matches_torch_cpu_float64(name, lengths, backend):
    torch_cls, our_cls, extra = PAIRS[name]
    kw = dict(num_layers=2, bidirectional=True, batch_first=True, dtype=torch.float64, **extra)
    ref = torch_cls(4, 6, **kw)
    ours = our_cls(4, 6, **kw).cuda()
    ours.load_state_dict(ref.state_dict())
    x = torch.randn(3, 7, 4, dtype=torch.float64)
    lens = torch.tensor([7, 2, 5]) if lengths else torch.tensor([7, 7, 7])
    results = []
    for module, device in ((ref, "cpu"), (ours, "cuda")):
        xi = x.to(device).requires_grad_(True)
        with rnnkit.use_backend(backend):
            out, state = module(xi, lengths=lens) if device == "cuda" else _torch_run(ref, xi, lens)
        finals = list(state) if isinstance(state, tuple) else [state]
        grads = torch.autograd.grad(weighted_sum([out, *finals]), [xi, *module.parameters()])
        results.append([t.cpu() for t in (out, *finals, *grads)])
    for a, b in zip(results[1], results[0], strict=True):
        assert_close(a, b, "cuda vs cpu")


def _torch_run(ref, x, lens):
    packed = pack_padded_sequence(x, lens, batch_first=True, enforce_sorted=False)
    out, state = ref(packed)
    out, _ = pad_packed_sequence(out, batch_first=True, total_length=x.shape[1])
    return out, state


@pytest.mark.parametrize("cls", [rnnkit.GRU, rnnkit.LSTM])
def test_cuda_float32_and_bfloat16_run(cls):
    for dtype in (torch.float32, torch.bfloat16):
        layer = cls(8, 16, num_layers=2, dtype=dtype, device="cuda")
        out, _ = layer(torch.randn(5, 3, 8, dtype=dtype, device="cuda"))
        out.float().sum().backward()
        assert out.is_cuda and torch.isfinite(out.float()).all()
