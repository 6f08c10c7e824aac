"""The split, the scaler and the windows: hand-built cases, no leakage, batches by step."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from forecast_helpers import series_values

from rnnkit.tasks.forecast import Split, WindowBatches, fit_scaler, plan_split, windows
from rnnkit.train import RnnkitError


def test_windows_match_hand_built_anchored_windows():
    s = np.arange(10.0) ** 2  # 0 1 4 9 16 25 ...
    x, y, anchors = windows(s, [3, 5], L=3, H=2)
    assert x.tolist() == [[-4, -3, 0], [-12, -7, 0]]  # s[0:3] - s[2], s[2:5] - s[4]
    assert y.tolist() == [[5, 12], [9, 20]]  # s[3:5] - s[2], s[5:7] - s[4]
    assert anchors.tolist() == [4, 16]


def test_origins_keep_each_window_inside_its_part():
    split = Split(train=20, val=6, test=5)
    assert list(split.train_origins(L=4, H=3)) == list(range(4, 18))  # last target: 19
    assert list(split.val_origins(H=3)) == [20, 21, 22, 23]  # targets 20..25
    assert list(split.test_origins(H=3)) == [26, 27, 28]  # targets 26..30


def test_split_defaults_to_two_horizons_and_refuses_short_series():
    assert plan_split(60, L=6, H=3, val=0, test=0, season=4) == Split(48, 6, 6)
    with pytest.raises(RnnkitError, match="at least 21 values"):
        plan_split(20, L=6, H=3, val=0, test=0, season=4)
    with pytest.raises(RnnkitError, match="shorter than --horizon"):
        plan_split(60, L=6, H=3, val=2, test=0, season=4)


def test_scaler_is_the_std_of_log_changes_of_the_training_part_and_round_trips():
    train = np.array([1.0, np.e, np.e**3])  # log changes 1, 2: std 0.5
    scaler = fit_scaler(train, "auto")
    assert scaler.transform == "log" and scaler.scale == pytest.approx(0.5)
    y = np.array([3.0, 7.0])
    assert np.allclose(scaler.decode(scaler.encode(y)), y)
    assert fit_scaler(np.array([0.0, 1.0, 3.0]), "auto").transform == "none"


def _pipeline(values: np.ndarray):
    split = plan_split(len(values), L=6, H=3, val=6, test=6, season=4)
    scaler = fit_scaler(values[: split.train])
    s = scaler.encode(values)
    return (
        scaler,
        windows(s, split.train_origins(6, 3), 6, 3),
        windows(s, split.val_origins(3), 6, 3),
    )


def test_changing_the_test_tail_changes_neither_scaler_nor_any_training_or_val_window():
    values = series_values()
    changed = values.copy()
    changed[-6:] = [1e4, 3, 7e3, 1, 2, 5e5]  # the test tail: wildly different
    scaler_a, train_a, val_a = _pipeline(values)
    scaler_b, train_b, val_b = _pipeline(changed)
    assert scaler_a == scaler_b
    for a, b in zip([*train_a, *val_a], [*train_b, *val_b]):
        assert np.array_equal(a, b)


def test_scaler_sees_only_the_training_part():
    values = series_values()
    changed = values.copy()
    changed[36:] *= 10  # validation and test
    assert _pipeline(values)[0] == _pipeline(changed)[0]
    changed[:36] *= np.linspace(1, 2, 36)  # the training part
    assert _pipeline(values)[0] != _pipeline(changed)[0]


def test_batch_is_a_pure_function_of_the_step_and_epochs_reshuffle():
    x, y = np.arange(40.0).reshape(10, 4), np.arange(20.0).reshape(10, 2)
    a, b = WindowBatches(x, y, 3, seed=1), WindowBatches(x, y, 3, seed=1)
    assert a.per_epoch == 3
    assert [a.indices(s).tolist() for s in (5, 0, 2)] == [b.indices(s).tolist() for s in (5, 0, 2)]
    epoch0 = np.concatenate([a.indices(s) for s in range(3)])
    assert len(set(epoch0.tolist())) == 9  # no window twice in an epoch
    assert not np.array_equal(epoch0, np.concatenate([a.indices(s) for s in range(3, 6)]))
    xb, yb = a.batch(4)
    assert xb.shape == (3, 4, 1) and yb.shape == (3, 2)
    assert torch.equal(xb[:, :, 0], torch.from_numpy(x[a.indices(4)]).float())


def test_shards_of_two_ranks_are_the_global_batch():
    x, y = np.arange(40.0).reshape(10, 4), np.arange(20.0).reshape(10, 2)
    whole = WindowBatches(x, y, 4, seed=0).batch(7)[0]
    parts = [WindowBatches(x, y, 4, seed=0).shard(r, 2).batch(7)[0] for r in range(2)]
    assert torch.equal(torch.cat(parts), whole)
    with pytest.raises(RnnkitError, match="divisible"):
        WindowBatches(x, y, 3, seed=0).shard(0, 2)
