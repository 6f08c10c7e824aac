"""The layer registry behind every command's --cell: each name builds its layer and runs."""

from __future__ import annotations

import pytest
import torch

from rnnkit.layers.registry import LAYERS, make_layer


@pytest.mark.parametrize("name", list(LAYERS))
def test_every_registered_layer_builds_with_rnn_options_and_runs(name):
    layer = make_layer(name, 3, 4, num_layers=2, batch_first=True, bidirectional=True)
    assert isinstance(layer, LAYERS[name][0])
    out, _ = layer(torch.randn(2, 5, 3), lengths=torch.tensor([5, 2]))
    assert out.shape == (2, 5, 8)
    assert torch.equal(out[1, 2:], torch.zeros(3, 8))  # nothing past the length


def test_relu_rnn_is_registered_with_its_nonlinearity():
    assert make_layer("rnn_relu", 3, 4).nonlinearity == "relu"


def test_unknown_name_lists_the_known_ones():
    with pytest.raises(ValueError, match="unknown cell 'lstmm'; expected one of rnn, rnn_relu"):
        make_layer("lstmm", 3, 4)


def test_one_name_per_cell_everywhere():
    from rnnkit.cells import CELLS
    from rnnkit.engine.native import native_cells

    assert list(LAYERS) == list(CELLS)
    for name, cell in CELLS.items():
        assert cell.name == name
        assert make_layer(name, 3, 4).cell is cell  # the layer runs the cell of its name
    assert set(native_cells()) <= set(CELLS)
