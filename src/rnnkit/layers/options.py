"""The checks of a recurrent layer's constructor options: each error names what was expected.

Shared by every stack layer (``RNNBase`` and its subclasses, the minimal RNNs included).
"""

from __future__ import annotations

import numbers
import warnings

from torch import Tensor, nn

from ..cells.base import CellMath

__all__ = [
    "RECURRENT_INITS",
    "check_chrono",
    "check_dropout",
    "check_init_options",
    "check_noise_rates",
    "check_size",
    "init_recurrent",
]

RECURRENT_INITS = ("uniform", "orthogonal", "identity")


def check_size(owner: str, name: str, value: object, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{owner} expected {name} to be an int, got {type(value).__name__}")
    if value < minimum:
        raise ValueError(f"{owner} expected {name} >= {minimum}, got {value}")
    return int(value)


def check_init_options(
    owner: str, cell: CellMath, forget_bias: float | None, recurrent_init: str
) -> None:
    if forget_bias is not None and cell.forget_gate is None:
        raise ValueError(
            f"{owner} has no forget gate; expected forget_bias=None, got {forget_bias}"
        )
    allowed = ("uniform", "identity") if cell.diagonal_hidden else RECURRENT_INITS
    if recurrent_init not in allowed:
        raise ValueError(
            f"{owner} expected recurrent_init in {', '.join(allowed)}, got {recurrent_init!r}"
        )


def check_chrono(
    owner: str, cell: CellMath, chrono_init: object, forget_bias: float | None, bias: bool
) -> None:
    if chrono_init is None:
        return
    if cell.forget_gate is None:
        raise ValueError(
            f"{owner} has no forget gate; expected chrono_init=None, got {chrono_init}"
        )
    if isinstance(chrono_init, bool) or not isinstance(chrono_init, numbers.Integral):
        raise TypeError(f"{owner} expected chrono_init to be an int (T_max), got {chrono_init!r}")
    if chrono_init < 3:
        raise ValueError(f"{owner} expected chrono_init (T_max) >= 3, got {chrono_init}")
    if forget_bias is not None:
        raise ValueError(
            f"{owner} got forget_bias={forget_bias} and chrono_init={chrono_init}; chrono "
            "initialization sets the forget-gate bias itself: pass one of them"
        )
    if not bias:
        raise ValueError(f"{owner} with bias=False has no gate biases for chrono_init")


def init_recurrent(W_hh: Tensor, how: str, H: int) -> None:
    """Re-initialize W_hh (G, P) per H-row gate block: orthogonal or identity; or keep uniform."""
    if how == "uniform":
        return
    if W_hh.dim() == 1:  # diagonal recurrence: identity means w_hh = 1
        W_hh.fill_(1.0)
        return
    for block in W_hh.split(H, dim=0):
        if how == "orthogonal":
            nn.init.orthogonal_(block)
        else:
            nn.init.eye_(block)


def check_dropout(owner: str, dropout: object, num_layers: int) -> float:
    """torch.nn's ``dropout`` between layers: a number in [0, 1]; warns where it has no effect."""
    if (
        not isinstance(dropout, numbers.Number)
        or isinstance(dropout, bool)
        or not 0 <= dropout <= 1
    ):
        raise ValueError(
            f"{owner} expected dropout to be a number in [0, 1] (the probability of "
            f"zeroing an element between layers), got {dropout!r}"
        )
    if dropout > 0 and num_layers == 1:
        warnings.warn(
            f"{owner}: dropout={dropout} has no effect with num_layers=1: it is applied "
            "between stacked layers only",
            stacklevel=3,
        )
    return float(dropout)


def check_noise_rates(
    owner: str, zoneout: object, recurrent_dropout: object, input_dropout: object
) -> tuple[tuple[float, float], float, float]:
    """((zoneout h, zoneout c), recurrent_dropout, input_dropout), each in [0, 1)."""
    zh, zc = zoneout if isinstance(zoneout, tuple) else (zoneout, zoneout)
    rates = {"zoneout": (zh, zc), "recurrent_dropout": (recurrent_dropout,)}
    rates["input_dropout"] = (input_dropout,)
    for name, rate in ((n, r) for n, rs in rates.items() for r in rs):
        if not isinstance(rate, (int, float)) or not 0 <= rate < 1:
            raise ValueError(f"{owner} expected {name} in [0, 1), got {rate!r}")
    return (float(zh), float(zc)), float(recurrent_dropout), float(input_dropout)
