"""Backtest: fit on all but the last N days, forecast those days, score against baselines.

The fitted forecast and the default one are simulated over the whole history from the same
starting groups (BAND_RUNS runs: the median and the p10–p90 band); the member count, a
stock, starts the held-out days from the last count observed, as any forecast from today
would. Baselines measured in the same run: the last observed value carried forward, and the
forecast with the uncalibrated parameters. The score is the mean absolute percentage error.

Both forecasts are simulated from the start of the history; at the cut each series is put on
the level the groups actually reached (its mean over the last LEVEL_DAYS observed days over
the simulation's), so the held-out days score the model's dynamics, not the luck of one
history's draw of talkative members. Joins are left as forecast: they are a rate the fit
already estimated from every day, and a week's level would only add that week's noise.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..playbook.model import Playbook
from .fit import FitResult, Simulator, fit
from .observed import Observed

SCORED = ("members", "joins", "active", "messages")
ANCHORED = ("members", "active", "messages")
BAND_RUNS = 20


@dataclass
class Backtest:
    holdout: int
    fit: FitResult
    actual: dict[str, np.ndarray]  # whole history
    bands: dict[str, np.ndarray]  # calibrated: (3, days) p10, p50, p90
    default: dict[str, np.ndarray]  # uncalibrated median, (days,)
    errors: dict[str, dict[str, float]]  # series -> {calibrated, last_value, defaults}

    def beats_baselines(self) -> dict[str, bool]:
        return {k: e["calibrated"] < min(e["last_value"], e["defaults"])
                for k, e in self.errors.items()}


def mape(actual: np.ndarray, forecast: np.ndarray) -> float:
    denom = np.maximum(np.abs(actual), 1.0)
    return float(np.mean(np.abs(forecast - actual) / denom))


def _bands(sim: Simulator, params: dict[str, float], seed: int) -> dict[str, np.ndarray]:
    runs = sim.run(params, runs=BAND_RUNS, seed=seed)
    return {k: np.quantile(np.stack([r[k] for r in runs]), [0.1, 0.5, 0.9], axis=0)
            for k in SCORED}


LEVEL_DAYS = 7


def _anchor(bands: np.ndarray, actual: np.ndarray, cut: int) -> np.ndarray:
    """The held-out part of a forecast (p10, p50, p90 rows) scaled to the observed level."""
    lo = max(0, cut - LEVEL_DAYS)
    sim_level = float(bands[1, lo:cut].mean())
    factor = float(actual[lo:cut].mean()) / sim_level if sim_level > 0 else 1.0
    out = bands.copy()
    out[:, cut:] *= factor
    return out


def backtest(playbook: Playbook, obs: Observed, holdout: int, *, runs: int = 2,
             seed: int = 0) -> Backtest:
    if holdout < 1 or obs.days - holdout < 14:
        from ..errors import UsageError
        from ..i18n import _

        raise UsageError(_("--holdout {n}: leave at least 14 days to fit ({days} days of "
                           "data)").format(n=holdout, days=obs.days))
    cut = obs.days - holdout
    result = fit(playbook, obs.head(cut), runs=runs, seed=seed)
    sim = Simulator(playbook, obs.start, obs.days, max(1, int(obs.groups[0])),
                    int(obs.members[0]), seed=seed)
    actual = {k: obs.series(k) for k in SCORED}
    cal = _bands(sim, result.params, seed + 1)
    dflt = _bands(sim, {}, seed + 1)
    for k in ANCHORED:
        cal[k] = _anchor(cal[k], actual[k], cut)
        dflt[k] = _anchor(dflt[k], actual[k], cut)
    errors = {}
    for k in SCORED:
        a = actual[k][cut:]
        errors[k] = {"calibrated": mape(a, cal[k][1, cut:]),
                     "last_value": mape(a, np.full(holdout, actual[k][cut - 1])),
                     "defaults": mape(a, dflt[k][1, cut:])}
    return Backtest(holdout, result, actual, cal, {k: v[1] for k, v in dflt.items()}, errors)
