"""rnnkit.export.quantize_dynamic: rnnkit's LSTM / GRU (and the Linear layers) as torch's
dynamically quantized int8 layers; the copy takes the model's inputs (lengths too) and its
outputs stay within 5% of the float model's largest value; what has no quantized form is
refused by name."""

from __future__ import annotations

import pytest
import torch

import rnnkit
from rnnkit.errors import RnnkitError
from rnnkit.export import quantize_dynamic

dynamic = torch.ao.nn.quantized.dynamic


class Tagger(torch.nn.Module):
    def __init__(self, layer: torch.nn.Module):
        super().__init__()
        self.embed, self.rnn = torch.nn.Embedding(50, 16), layer
        self.head = torch.nn.Linear(2 * layer.hidden_size, 5)

    def forward(self, tokens, lengths):
        y, _ = self.rnn(self.embed(tokens), lengths=lengths)
        return self.head(y)


@pytest.mark.parametrize("cls", [rnnkit.LSTM, rnnkit.GRU])
def test_the_int8_copy_stays_close_to_the_float_model_with_lengths(cls):
    torch.manual_seed(0)
    model = Tagger(cls(16, 32, num_layers=2, bidirectional=True, batch_first=True)).eval()
    quantized = quantize_dynamic(model)
    kinds = {type(m) for m in quantized.modules()}
    assert {dynamic.Linear, getattr(dynamic, cls.__name__)} <= kinds
    tokens, lengths = torch.randint(0, 50, (6, 20)), torch.tensor([20, 3, 17, 9, 1, 12])
    with torch.no_grad():
        want, got = model(tokens, lengths), quantized(tokens, lengths)
    assert (got - want).abs().max() <= 0.05 * want.abs().max()
    assert model.rnn.weight_ih_l0.dtype == torch.float32  # the model itself is untouched


@pytest.mark.parametrize(
    "layer", [rnnkit.RNN(16, 8), rnnkit.LSTM(16, 8, proj_size=4), rnnkit.LayerNormGRU(16, 8)]
)
def test_layers_without_an_int8_form_are_refused_by_name(layer):
    with pytest.raises(RnnkitError, match=type(layer).__name__):
        quantize_dynamic(torch.nn.Sequential(layer))
