"""IndRNN (Li et al. 2018): each unit has its own scalar recurrence.

Names: "indrnn" (ReLU, the paper's and the layer's default) and "indrnn_tanh".

    h_t = act(x_t·W_ihᵀ + b_ih + w_hh ⊙ h_{t-1} + b_hh),   act = ReLU (default) or tanh

``w_hh`` is a (H,) vector (``diagonal_hidden``); the step math is the Elman RNN's.
"""

from __future__ import annotations

from dataclasses import replace

from .rnn import RNN_RELU, RNN_TANH

__all__ = ["INDRNN_RELU", "INDRNN_TANH"]

INDRNN_RELU = replace(RNN_RELU, name="indrnn", diagonal_hidden=True)
INDRNN_TANH = replace(RNN_TANH, name="indrnn_tanh", diagonal_hidden=True)
