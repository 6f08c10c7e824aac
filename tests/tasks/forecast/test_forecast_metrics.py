"""MAE, RMSE, sMAPE, MASE, conformal widths and coverage against hand-computed values."""

from __future__ import annotations

import math

import numpy as np
import pytest

from rnnkit.tasks.forecast import (
    conformal_widths,
    coverage,
    mae,
    mase,
    mase_scale,
    rmse,
    score,
    smape,
)

F = np.array([[1.0, 2.0], [3.0, 4.0]])
A = np.array([[2.0, 2.0], [1.0, 5.0]])  # errors -1, 0, 2, -1


def test_mae_and_rmse():
    assert mae(F, A) == pytest.approx(1.0)  # (1 + 0 + 2 + 1) / 4
    assert rmse(F, A) == pytest.approx(math.sqrt(1.5))  # sqrt((1 + 0 + 4 + 1) / 4)


def test_smape_in_percent_with_zero_over_zero_as_zero():
    # 200 |F - A| / (|F| + |A|): 2/3, 0, 4/4, 2/9 (x 100)
    assert smape(F, A) == pytest.approx(100 * (2 / 3 + 0 + 1 + 2 / 9) / 4)
    assert smape(np.array([0.0, 1.0]), np.array([0.0, 3.0])) == pytest.approx(50.0)


def test_mase_divides_by_in_sample_seasonal_naive_mae():
    train = np.array([1.0, 3.0, 2.0, 5.0, 4.0])
    assert mase_scale(train, season=2) == pytest.approx(5 / 3)  # |2-1|, |5-3|, |4-2|
    assert mase_scale(train, season=1) == pytest.approx(7 / 4)  # 2, 1, 3, 1
    assert mase(F, A, 5 / 3) == pytest.approx(0.6)


def test_conformal_width_is_the_ceil_n_plus_one_level_th_residual_per_step():
    residuals = np.array([[0.1, 1.0], [-0.4, -3.0], [0.2, 2.0], [0.3, 4.0]])  # (N=4, H=2)
    assert conformal_widths(residuals, 0.5).tolist() == [0.3, 3.0]  # ceil(5 x 0.5) = 3rd
    assert conformal_widths(residuals, 0.9).tolist() == [0.4, 4.0]  # ceil(4.5) = 5 > 4: max


def test_coverage_and_score():
    lower, upper = F - 0.5, F + 1.5
    # 2 in [0.5, 2.5], 2 in [1.5, 3.5], 1 not in [2.5, 4.5], 5 in [3.5, 5.5]
    assert coverage(lower, upper, A) == pytest.approx(0.75)
    out = score(F, A, 2.0, lower, upper)
    assert out == pytest.approx(
        {"mae": 1.0, "rmse": math.sqrt(1.5), "smape": smape(F, A), "mase": 0.5, "coverage": 0.75}
    )
