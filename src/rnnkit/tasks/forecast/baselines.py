"""The forecasts an RNN must be compared with, on the same split and the same origins.

Each method maps the encoded series ``s`` (T,) and forecast origins to forecasts (N, H) in
encoded units (``windows.Scaler``); a method that fits parameters fits them on the training
part ``s[:train_end]`` only.

- ``naive``: the last value, s_{t-1}, for every step.
- ``seasonal_naive``: the value one season earlier, s_{t-m+(h mod m)} for step h = 0..H-1.
- ``ets``: exponential smoothing (Holt-Winters) with additive errors, additive seasonality
  of period m and the trend (none, additive or damped) of lowest AIC, initial states
  estimated (statsmodels' state-space ``ExponentialSmoothing``). On the log scale (the
  default for positive data) additive means multiplicative in the original units.
- ``arima``: the "airline model" SARIMA(0,1,1)(0,1,1)_m of Box & Jenkins; ARIMA(0,1,1)
  without a season.

Both classical models are linear state-space models: with the training parameters fixed, the
Kalman filter runs once over the series, and the forecast at origin t starts from the
one-step predicted state a_{t|t-1}, which depends on values before t only (the same numbers
as filtering ``s[:t]`` afresh for each origin; tested). A season longer than ``MAX_SEASON``
is left out of both (their state grows with m and the fit would take minutes); the model
name says so: "ETS(A,A,N)", "ARIMA(0,1,1)".
"""

from __future__ import annotations

import contextlib
import warnings
from collections.abc import Sequence
from typing import Any

import numpy as np

__all__ = ["MAX_SEASON", "arima", "ets", "naive", "seasonal_naive", "state_space_forecasts"]

MAX_SEASON = 24  # longest season the classical models include


def naive(s: np.ndarray, origins: Sequence[int], H: int) -> np.ndarray:
    """Last-value forecasts (N, H): s_{t-1} at every step."""
    last = s[np.asarray(origins) - 1]  # (N,)
    return np.repeat(last[:, None], H, axis=1)


def seasonal_naive(s: np.ndarray, origins: Sequence[int], H: int, season: int) -> np.ndarray:
    """Seasonal-naive forecasts (N, H): step h gets s_{t - m + (h mod m)}, the same phase of
    the last season observed."""
    idx = np.asarray(origins)[:, None] - season + np.arange(H) % season  # (N, H)
    return s[idx]


def _fixed(ssm: Any, name: str, ndim: int) -> np.ndarray:
    """A time-invariant system matrix (statsmodels may add a trailing time axis of 1)."""
    x = np.asarray(ssm[name])
    return x[..., 0] if x.ndim > ndim else x


def state_space_forecasts(fitted: Any, s: np.ndarray, origins: Sequence[int], H: int) -> np.ndarray:
    """Forecasts (N, H) at ``origins`` of a fitted statsmodels state-space model, its
    parameters applied to ``s`` (one filter pass): y_{t+h} = Z T^h a_{t|t-1} + d (+ c terms)."""
    res = fitted.apply(s[: max(origins)])
    a = res.predicted_state  # (k, T+1): column t is a_{t|t-1}
    ssm = res.model.ssm
    Z, T = _fixed(ssm, "design", 2), _fixed(ssm, "transition", 2)  # (1, k), (k, k)
    d, c = _fixed(ssm, "obs_intercept", 1), _fixed(ssm, "state_intercept", 1)  # (1,), (k,)
    state = a[:, list(origins)]  # (k, N)
    out = np.empty((len(origins), H))
    for h in range(H):
        out[:, h] = (Z @ state)[0] + d[0]  # the observation implied by the state
        state = T @ state + c[:, None]  # one step ahead
    return out


def _quiet_single_thread() -> contextlib.ExitStack:
    """No statsmodels warnings, numpy's BLAS on one thread: the classical models multiply
    tiny matrices, where BLAS threads only wait (ARIMA on 36 values took 12 s instead of
    0.3 s on a loaded 2-core machine). Without threadpoolctl the BLAS keeps its threads."""
    stack = contextlib.ExitStack()
    stack.enter_context(warnings.catch_warnings())
    warnings.simplefilter("ignore")  # convergence warnings on short series
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:
        return stack
    stack.enter_context(threadpool_limits(limits=1, user_api="blas"))
    return stack


def _has_season(season: int, train_end: int, extra: int = 0) -> bool:
    return 1 < season <= MAX_SEASON and train_end >= 2 * season + extra


def ets(
    s: np.ndarray, train_end: int, origins: Sequence[int], H: int, season: int
) -> tuple[np.ndarray, str]:
    """(forecasts (N, H), the model's name, e.g. "ETS(A,A,A)") of the lowest-AIC ETS."""
    from statsmodels.tsa.statespace.exponential_smoothing import ExponentialSmoothing

    seasonal = season if _has_season(season, train_end) else None
    fits = []
    with _quiet_single_thread():
        for trend, damped in ((False, False), (True, False), (True, True)):
            model = ExponentialSmoothing(
                s[:train_end], trend=trend, damped_trend=damped, seasonal=seasonal
            )
            fits.append((model.fit(disp=False), "Ad" if damped else "A" if trend else "N"))
        best, trend_name = min(fits, key=lambda f: f[0].aic)
        out = state_space_forecasts(best, s, origins, H)
    return out, f"ETS(A,{trend_name},{'A' if seasonal else 'N'})"


def arima(
    s: np.ndarray, train_end: int, origins: Sequence[int], H: int, season: int
) -> tuple[np.ndarray, str]:
    """(forecasts (N, H), the model's name) of SARIMA(0,1,1)(0,1,1)_m, or ARIMA(0,1,1)."""
    from statsmodels.tsa.statespace.sarimax import SARIMAX

    seasonal = _has_season(season, train_end, extra=2)
    order = (0, 1, 1, season) if seasonal else (0, 0, 0, 0)
    with _quiet_single_thread():
        fitted = SARIMAX(s[:train_end], order=(0, 1, 1), seasonal_order=order).fit(disp=False)
        out = state_space_forecasts(fitted, s, origins, H)
    return out, f"SARIMA(0,1,1)(0,1,1){season}" if seasonal else "ARIMA(0,1,1)"
