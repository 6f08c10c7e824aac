"""Clean global state for every task test: the recipes set torch threads and the rnnkit
backend when they run (``rnnkit textgen/classify/forecast train``); put them back after."""

from __future__ import annotations

import pytest
import torch

import rnnkit


@pytest.fixture(autouse=True)
def _restore_globals():
    threads, backend = torch.get_num_threads(), rnnkit.get_backend()
    yield
    torch.set_num_threads(threads)
    rnnkit.set_backend(backend)
