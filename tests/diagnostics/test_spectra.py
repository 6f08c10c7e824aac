"""Spectra of W_hh: spectral radius against numpy, gate blocks in torch.nn's order."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

import rnnkit
from rnnkit.diagnostics import layer_spectra, spectral_radius


def test_spectral_radius_of_a_scaled_rotation_is_the_scale():
    a = 0.3
    W = 0.5 * torch.tensor(
        [[math.cos(a), -math.sin(a)], [math.sin(a), math.cos(a)]], dtype=torch.float64
    )
    assert spectral_radius(W) == pytest.approx(0.5, abs=1e-12)  # eigenvalues 0.5·e^{±ia}


def test_spectral_radius_matches_numpy_on_a_random_matrix():
    W = torch.randn(7, 7, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    expected = np.abs(np.linalg.eigvals(W.numpy())).max()
    assert spectral_radius(W) == pytest.approx(expected, rel=1e-12)


def test_spectral_radius_of_a_non_square_matrix_is_an_error():
    with pytest.raises(ValueError, match="square"):
        spectral_radius(torch.zeros(8, 2))


@pytest.mark.parametrize(
    ("cls", "gates"), [(rnnkit.RNN, "h"), (rnnkit.LSTM, "ifgo"), (rnnkit.GRU, "rzn")]
)
def test_gate_blocks_are_the_H_by_H_slices_of_W_hh(cls, gates):
    H = 5
    layer = cls(3, H, num_layers=2, bidirectional=True)
    spectra = layer_spectra(layer, 1)
    assert [s.name for s in spectra] == ["weight_hh_l1", "weight_hh_l1_reverse"]
    W = layer.weight_hh_l1_reverse.detach().double()
    s = spectra[1]
    torch.testing.assert_close(s.singular_values, torch.linalg.svdvals(W))
    assert "".join(g.gate for g in s.gates) == gates
    for k, g in enumerate(s.gates):
        block = W[k * H : (k + 1) * H]
        torch.testing.assert_close(g.singular_values, torch.linalg.svdvals(block))
        assert g.spectral_radius == pytest.approx(spectral_radius(block))
    assert (s.spectral_radius is None) == (len(gates) > 1)  # whole matrix square only for RNN


def test_projected_lstm_blocks_are_not_square_so_no_radius():
    (s,) = layer_spectra(rnnkit.LSTM(3, 6, proj_size=2), 0)
    assert all(g.spectral_radius is None and g.singular_values.shape == (2,) for g in s.gates)
