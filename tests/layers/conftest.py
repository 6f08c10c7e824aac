"""Fixtures of the layer tests."""

from __future__ import annotations

import pytest
import torch


@pytest.fixture
def fresh_dynamo():
    """Each test compiles its own models: dynamo's per-code cache (8 entries) starts empty."""
    torch._dynamo.reset()
    yield
    torch._dynamo.reset()
