"""The split in time, the scaling, and (lookback -> horizon) windows as training batches.

A series of T values is cut into ``train | val | test`` in time order. Everything that is
fitted (the log-or-not choice, the scale, the model's weights, the classical models'
parameters, the MASE scale) sees the training part only. A window at *origin* ``t`` reads the
``L`` values before ``t`` and forecasts the ``H`` values from ``t`` on; training windows lie
wholly inside the training part, validation and test windows have all their targets inside
their own part (their inputs may reach back: those values are known at forecast time).

Values are encoded as ``s = transform(y) / scale`` (``scale``: standard deviation of the
one-step changes of the transformed training part), and each window is anchored at its last
input: the model reads ``s[t-L:t] - s[t-1]`` and predicts ``s[t:t+H] - s[t-1]``, so a level
never seen in training (a trending series) is no extrapolation for the network.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor

from ...errors import RnnkitError
from ...train.distributed import rank_rows

__all__ = [
    "Scaler",
    "Split",
    "WindowBatches",
    "choose_transform",
    "fit_scaler",
    "plan_split",
    "windows",
]


@dataclass(frozen=True)
class Split:
    """Lengths of the three consecutive parts of a series."""

    train: int  # values fitted on
    val: int  # values after them: early stopping, best checkpoint, interval widths
    test: int  # the held-out tail, reported only

    @property
    def fit_end(self) -> int:
        """Index of the first test value (train + val)."""
        return self.train + self.val

    def train_origins(self, L: int, H: int) -> range:
        """Origins whose inputs and targets all lie in the training part."""
        return range(L, self.train - H + 1)

    def val_origins(self, H: int) -> range:
        """Origins whose H targets all lie in the validation part."""
        return range(self.train, self.fit_end - H + 1)

    def test_origins(self, H: int) -> range:
        """Origins whose H targets all lie in the test tail (walk-forward evaluation)."""
        return range(self.fit_end, self.fit_end + self.test - H + 1)


def plan_split(n: int, L: int, H: int, val: int, test: int, season: int) -> Split:
    """The split of ``n`` values (``val``, ``test`` of 0 mean 2 x ``H``); ``RnnkitError`` when
    a part is too short for one window."""
    val, test = val or 2 * H, test or 2 * H
    for flag, size in (("--val", val), ("--test", test)):
        if size < H:
            raise RnnkitError(f"{flag} {size} is shorter than --horizon {H}: no window fits in it")
    train = n - val - test
    need = max(L + H, season + 1)
    if train < need:
        raise RnnkitError(
            f"the series has {n} values; --lookback {L} + --horizon {H} need a training part "
            f"of at least {need} before the validation part ({val}) and the test tail "
            f"({test}): at least {need + val + test} values"
        )
    return Split(train, val, test)


@dataclass(frozen=True)
class Scaler:
    """``encode(y) = transform(y) / scale`` and its inverse; fitted on the training part."""

    transform: str  # "log" or "none"
    scale: float  # std of the one-step changes of the transformed training values

    def encode(self, y: np.ndarray) -> np.ndarray:
        """Original values (...) -> encoded values (...)."""
        z = np.log(y) if self.transform == "log" else np.asarray(y, dtype=np.float64)
        return z / self.scale

    def decode(self, s: np.ndarray) -> np.ndarray:
        """Encoded values (...) -> original values (...)."""
        z = np.asarray(s, dtype=np.float64) * self.scale
        return np.exp(z) if self.transform == "log" else z

    def check(self, values: np.ndarray, lines: list[int], where: str) -> None:
        """``RnnkitError`` naming the first value (and its line) the transform cannot take."""
        if self.transform == "log" and (values <= 0).any():
            i = int(np.argmax(values <= 0))
            raise RnnkitError(
                f"{where} line {lines[i]}: value {values[i]:g} is not > 0, so the log transform "
                "cannot take it; use --transform none"
            )


def choose_transform(train: np.ndarray, transform: str = "auto") -> str:
    """``transform``, with ``auto`` resolved on the training part: log when all values > 0."""
    if transform == "auto":
        return "log" if (train > 0).all() else "none"
    return transform


def fit_scaler(train: np.ndarray, transform: str = "auto") -> Scaler:
    """The ``Scaler`` of a training part (T_train,); ``auto`` takes log when all values > 0."""
    transform = choose_transform(train, transform)
    if transform == "log" and (train <= 0).any():
        raise RnnkitError("--transform log needs values > 0; the training part has values <= 0")
    z = np.log(train) if transform == "log" else train
    scale = float(np.std(np.diff(z)))
    if not scale > 0:
        raise RnnkitError("the training part is constant: there is nothing to learn")
    return Scaler(transform, scale)


def windows(
    s: np.ndarray, origins: range | list[int], L: int, H: int = 0
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(inputs (N, L), targets (N, H), anchors (N,)) of the encoded series ``s`` (T,) at
    ``origins``, anchored at each window's last input; H = 0 for forecasts past the end."""
    origins = np.asarray(origins, dtype=np.int64)
    anchors = s[origins - 1]  # (N,) the last value each window reads
    x = s[origins[:, None] + np.arange(-L, 0)] - anchors[:, None]  # (N, L)
    y = s[origins[:, None] + np.arange(H)] - anchors[:, None]  # (N, H)
    return x, y, anchors


class WindowBatches:
    """Batches of training windows: step ``s`` is batch ``s mod E`` of epoch ``s // E`` of a
    permutation seeded by (seed, epoch), so a batch is a pure function of the step."""

    def __init__(self, x: np.ndarray, y: np.ndarray, batch_size: int, seed: int) -> None:
        N = len(x)
        if batch_size > N:
            raise RnnkitError(
                f"the training part has {N} windows; --batch-size {batch_size} needs at least "
                "that many: use a smaller --batch-size, --lookback or --horizon, or more data"
            )
        self.x = torch.from_numpy(x).float()  # (N, L)
        self.y = torch.from_numpy(y).float()  # (N, H)
        self.B, self.seed = batch_size, seed
        self.per_epoch = N // batch_size  # full batches; the rest waits for another epoch
        self.rows = slice(0, batch_size)

    def shard(self, rank: int, world_size: int) -> WindowBatches:
        """Keep positions ``rank * B/W ... (rank+1) * B/W`` of every global batch."""
        self.rows = rank_rows(self.B, rank, world_size)
        return self

    def indices(self, step: int) -> np.ndarray:
        """Window indices of this rank's share of global step ``step``, (B/W,)."""
        epoch, k = divmod(step, self.per_epoch)
        order = np.random.default_rng([self.seed, epoch]).permutation(len(self.x))
        return order[k * self.B : (k + 1) * self.B][self.rows]

    def batch(self, step: int) -> tuple[Tensor, Tensor]:
        """(x (B/W, L, 1), y (B/W, H)) of global step ``step``."""
        idx = torch.from_numpy(self.indices(step))
        return self.x[idx].unsqueeze(-1), self.y[idx]
