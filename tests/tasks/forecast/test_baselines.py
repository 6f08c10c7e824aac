"""Baselines: naive and seasonal naive by hand; ETS and ARIMA fit on the training part only."""

from __future__ import annotations

import numpy as np
import pytest
from forecast_helpers import series_values

from rnnkit.tasks.forecast import arima, ets, naive, seasonal_naive
from rnnkit.tasks.forecast.baselines import state_space_forecasts

S = np.array([10.0, 11.0, 12.0, 13.0, 14.0, 15.0, 16.0])


def test_naive_repeats_the_last_value():
    assert naive(S, [3, 4], 3).tolist() == [[12, 12, 12], [13, 13, 13]]


def test_seasonal_naive_repeats_the_last_season():
    # origin 4, season 2: s[2], s[3], s[2]; origin 5: s[3], s[4], s[3]
    assert seasonal_naive(S, [4, 5], 3, season=2).tolist() == [[12, 13, 12], [13, 14, 13]]
    assert seasonal_naive(S, [4], 2, season=1).tolist() == naive(S, [4], 2).tolist()


@pytest.mark.parametrize("method", [ets, arima])
def test_classical_models_fit_on_the_training_part_only(method):
    s = np.log(series_values())
    changed = s.copy()
    changed[36:] += np.linspace(0, 3, 12)  # validation and test parts
    a, name = method(s, 36, [36, 40], 3, 4)
    b, _ = method(changed, 36, [36, 40], 3, 4)
    assert a.shape == (2, 3) and name.startswith(("ETS", "SARIMA"))
    assert np.allclose(a[0], b[0])  # origin 36 sees only training values: same forecast
    assert not np.allclose(a[1], b[1])  # origin 40 filters through the changed values


def _sarima(s):
    from statsmodels.tsa.statespace.sarimax import SARIMAX

    model = SARIMAX(s, order=(1, 1, 1), seasonal_order=(0, 1, 1, 4))
    return model.filter(model.start_params)  # parameters need not be fitted here


def _holt_winters(s):
    from statsmodels.tsa.statespace.exponential_smoothing import ExponentialSmoothing

    model = ExponentialSmoothing(s, trend=True, damped_trend=True, seasonal=4)
    return model.filter(model.start_params)


@pytest.mark.filterwarnings("ignore")  # statsmodels' convergence warnings on 36 values
@pytest.mark.parametrize("fit", [_sarima, _holt_winters])
def test_one_filter_pass_equals_refiltering_up_to_each_origin(fit):
    s = np.log(series_values())
    fitted = fit(s[:36])
    origins = [36, 39, 44]
    expected = np.stack([fitted.apply(s[:t]).forecast(3) for t in origins])
    assert np.allclose(state_space_forecasts(fitted, s, origins, 3), expected, atol=1e-10)
