"""The packed time layout: offsets, order, validation."""

from __future__ import annotations

import pytest
import torch
from torch.nn.utils.rnn import pack_sequence

from rnnkit.engine import time_layout


def test_offsets_match_torch_packing():
    seqs = [torch.zeros(n, 1) for n in (5, 3, 3, 1)]
    packed = pack_sequence(seqs)
    layout = time_layout(tuple(packed.batch_sizes.tolist()))
    assert layout.batch_sizes == (4, 3, 3, 1, 1)
    assert layout.offsets == (0, 4, 7, 10, 11)
    assert layout.N == packed.data.shape[0] == 12
    assert (layout.T, layout.B, layout.uniform) == (5, 4, False)
    assert layout.rows(2) == slice(7, 10)
    assert list(layout.order(reverse=True)) == [4, 3, 2, 1, 0]


def test_uniform_layout():
    layout = time_layout((3, 3))
    assert layout.uniform and layout.N == 6 and layout.offsets == (0, 3)


@pytest.mark.parametrize("sizes,match", [((), "T = 0"), ((2, 3), "non-increasing")])
def test_bad_batch_sizes(sizes, match):
    with pytest.raises(ValueError, match=match):
        time_layout(sizes)
