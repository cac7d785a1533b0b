"""Estimate the forecast's parameters from an observed daily series.

Method: the simulated method of moments. A handful of summary statistics (moments) of the
observed series are matched by the same statistics of the forecast engine's own output,
simulated over the same days from the same starting groups and members, with common random
numbers (a fixed seed) so that the objective moves with the parameters, not with the dice.
Residuals are scaled by each moment's standard error, estimated from the data with a
Newey–West long-run variance (days are not independent); scipy's ``least_squares`` searches
in log-parameter space. Uncertainties come from the sandwich formula at the optimum, widened
by (1 + 1/R) for the simulation noise of R runs.

A parameter whose moments barely move when it doubles is not identified by these data: it
keeps its value and the result says so (docs/simulation.md lists the confounded ones).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date

import numpy as np

from ..playbook.model import Playbook
from .observed import Observed

# parameter -> the moment that pins it down
FITTED: dict[str, str] = {
    "join_scale": "joins",
    "churn_base": "leave_rate",
    "speak_scale": "active_rate",
    "messages_per_active": "messages_per_active",
    "convert_rate": "conversion_rate",
}
BOUNDS: dict[str, tuple[float, float]] = {
    "join_scale": (1e-3, 1e3), "default_daily_joins": (1e-3, 1e5),
    "churn_base": (1e-6, 0.5), "speak_scale": (1e-4, 5.0),
    "messages_per_active": (1e-3, 200.0), "engagement_decay": (1e-3, 0.95),
    "convert_rate": (1e-6, 0.5),
}
STEP = 0.1  # finite-difference step in log-parameter space (about 10 %)
IDENTIFIED = 0.5  # doubling a parameter must move some moment by half a standard error
Series = dict[str, np.ndarray]


def moments(s: Series) -> tuple[np.ndarray, np.ndarray]:
    """(the moments, per-day contributions whose mean is each moment, linearised)."""
    members, joins, leaves = s["members"], s["joins"], s["leaves"]
    active, messages = s["active"], s["messages"]
    safe = np.maximum(members, 1.0)
    rate = active / safe
    # the leave hazard: leaves over the members the day began with
    prev = np.maximum(members[:-1], 1.0)
    lr = leaves[1:].sum() / prev.sum()
    lr_t = np.concatenate([[lr], (leaves[1:] - lr * prev) / prev.mean() + lr])
    act_sum = max(float(active.sum()), 1.0)
    mpa = float(messages.sum()) / act_sum
    mpa_t = (messages - mpa * active) / (act_sum / len(active)) + mpa
    ma = np.convolve(rate, np.ones(7) / 7, mode="same")
    edge = np.r_[3:len(rate) - 3] if len(rate) > 7 else np.arange(len(rate))
    swing_t = np.zeros_like(rate)
    mean_rate = max(float(rate.mean()), 1e-9)
    swing_t[edge] = np.abs(rate[edge] - ma[edge]) / mean_rate
    swing_t[np.setdiff1d(np.arange(len(rate)), edge)] = swing_t[edge].mean()
    cols = [joins.astype(float), lr_t, rate, mpa_t, swing_t]
    if "conversions" in s and s["conversions"] is not None:
        conv = s["conversions"]
        cr = conv.sum() / safe.sum()
        cols.append((conv - cr * safe) / safe.mean() + cr)
    per_day = np.stack(cols, axis=1)
    return per_day.mean(axis=0), per_day


def long_run_se(per_day: np.ndarray) -> np.ndarray:
    """Standard errors of the column means, Newey–West (Bartlett kernel)."""
    n = per_day.shape[0]
    x = per_day - per_day.mean(axis=0)
    lags = max(1, int(4 * (n / 100) ** (2 / 9)))
    var = (x * x).mean(axis=0)
    for k in range(1, lags + 1):
        w = 1 - k / (lags + 1)
        var = var + 2 * w * (x[k:] * x[:-k]).mean(axis=0)
    return np.sqrt(np.maximum(var, 1e-18) / n)


def long_run_corr(per_day: np.ndarray) -> np.ndarray:
    n = per_day.shape[0]
    x = per_day - per_day.mean(axis=0)
    lags = max(1, int(4 * (n / 100) ** (2 / 9)))
    cov = x.T @ x / n
    for j in range(1, lags + 1):
        g = x[j:].T @ x[:-j] / n
        cov += (1 - j / (lags + 1)) * (g + g.T)
    d = np.sqrt(np.maximum(np.diag(cov), 1e-18))
    return cov / np.outer(d, d)


MOMENT_NAMES = ("joins", "leave_rate", "active_rate", "messages_per_active", "swing",
                "conversion_rate")


@dataclass
class Simulator:
    """The forecast engine over the observed days, from the observed groups and members."""

    playbook: Playbook
    start: date
    days: int
    groups: int
    members: int
    runs: int = 2
    seed: int = 0
    _ops: object = None
    calls: int = 0

    def __post_init__(self) -> None:
        from ..simulate.ops import OpsBook
        from ..simulate.params import resolve

        self._ops = OpsBook(self.playbook, self.start, self.days, resolve(
            self.playbook.simulation))

    def fill(self) -> float:
        cap = self.playbook.positioning.capacity
        return min(1.0, self.members / max(1, self.groups * cap))

    def run(self, params: dict[str, float], runs: int | None = None,
            seed: int | None = None) -> list[Series]:
        from ..simulate.engine import run
        from ..simulate.model import build_world

        self.calls += 1
        out = []
        for r in range(runs or self.runs):
            world = build_world(self.playbook, self.start, self.days, self.groups,
                                {"initial_fill": self.fill(), **params}, self._ops)
            rng = np.random.Generator(np.random.PCG64(self.seed if seed is None
                                                      else seed).jumped(r))
            res = run(world, rng)
            s = {k: res.series[k].astype(float) for k in
                 ("members", "joins", "leaves", "active", "messages", "groups_open")}
            s["conversions"] = res.conversions.sum(axis=0).astype(float)
            out.append(s)
        return out


def observed_series(obs: Observed) -> Series:
    s = {"members": obs.members, "joins": obs.joins, "leaves": obs.leaves,
         "active": obs.active, "messages": obs.messages}
    if obs.conversions is not None:
        s["conversions"] = obs.conversions
    return s


@dataclass
class Estimate:
    name: str
    value: float
    se: float | None  # None: not identified by these data, kept at ``default``
    default: float
    moment: str


@dataclass
class FitResult:
    estimates: list[Estimate]
    params: dict[str, float]  # every fitted value (identified or not), for simulation:
    moments_observed: dict[str, float]
    moments_fitted: dict[str, float]
    evaluations: int
    converged: bool
    notes: list[str] = field(default_factory=list)


def fit(playbook: Playbook, obs: Observed, *, runs: int = 2, seed: int = 0,
        progress: Callable[[int], None] | None = None) -> FitResult:
    """Fit the parameters of FITTED that ``obs`` can identify.

    Two stages: a first fit weighted by the data's own day-to-day noise, then the moments'
    covariance is simulated at that estimate (COV_RUNS independent histories: it holds the
    persistent randomness a single history cannot show, such as who the talkative members
    are) and the fit is redone with it. Parameters whose doubling moves no moment by half a
    standard error are kept at their value and reported as not identified."""
    from ..simulate.params import resolve

    base = resolve(playbook.simulation)
    names = [n for n in FITTED if n != "convert_rate" or obs.conversions is not None]
    if not playbook.acquisition:  # no sources: joins are default_daily_joins itself
        names[names.index("join_scale")] = "default_daily_joins"
    m_obs, per_day = moments(observed_series(obs))
    used = sorted({MOMENT_NAMES.index(FITTED.get(n, "joins")) for n in names})
    m_obs, per_day = m_obs[used], per_day[:, used]
    sim = Simulator(playbook, obs.start, obs.days, max(1, int(obs.groups[0])),
                    int(obs.members[0]), runs=runs, seed=seed)
    lo = np.log([BOUNDS[n][0] for n in names])
    hi = np.log([BOUNDS[n][1] for n in names])
    x0 = np.log([max(base[n], 1e-6) for n in names])
    if "default_daily_joins" in names and base["default_daily_joins"] <= 0:
        x0[names.index("default_daily_joins")] = np.log(max(1.0, float(obs.joins.mean())))
    x0 = np.clip(x0, lo + 1e-9, hi - 1e-9)

    def sim_moments(x: np.ndarray) -> np.ndarray:
        ms = [moments(s)[0][used] for s in sim.run(dict(zip(names, np.exp(x), strict=True)))]
        if progress:
            progress(sim.calls)
        return np.mean(ms, axis=0)

    # a cheap start: each parameter moved in proportion to the gap of its own moment
    # (the leave hazard is a sum of terms: churn_base takes the gap itself)
    pos = {n: used.index(MOMENT_NAMES.index(FITTED.get(n, "joins"))) for n in names}
    for _ in range(PRESTEPS):
        m = sim_moments(x0)
        for i, n in enumerate(names):
            k = pos[n]
            if n == "churn_base":
                new = np.exp(x0[i]) + (m_obs[k] - m[k])
                x0[i] = np.log(max(new, np.exp(x0[i]) / 4))
            elif m[k] > 0 and m_obs[k] > 0:
                x0[i] += np.log(m_obs[k] / m[k])
        x0 = np.clip(x0, lo + 1e-9, hi - 1e-9)
    # stage 1: the data's day-to-day noise as weights
    se1 = long_run_se(per_day) * np.sqrt(1 + 1 / runs)
    x1, _, _ = _solve(lambda x: (sim_moments(x) - m_obs) / se1, x0, list(range(len(names))),
                      lo, hi, max_nfev=8)
    # stage 2: the moments' covariance simulated at the first estimate
    params1 = dict(zip(names, np.exp(x1), strict=True))
    ms = np.array([moments(s)[0][used] for s in
                   sim.run(params1, runs=COV_RUNS, seed=seed + 7919)])
    sd = np.maximum(ms.std(axis=0, ddof=1), long_run_se(per_day))
    dev = ms - ms.mean(axis=0)
    scale = np.sqrt(np.maximum((dev * dev).sum(axis=0), 1e-300))
    corr = (dev.T @ dev) / np.outer(scale, scale)  # a constant moment correlates with none
    np.fill_diagonal(corr, 1.0)
    se2 = sd * np.sqrt(1 + 1 / runs)

    def residuals(x: np.ndarray) -> np.ndarray:
        return (sim_moments(x) - m_obs) / se2

    jac1 = _jacobian(residuals, x1, list(range(len(names))), hi)
    keep = [i for i in range(len(names)) if np.max(np.abs(jac1[:, i])) * np.log(2) >= IDENTIFIED]
    notes = [n for i, n in enumerate(names) if i not in keep]
    x_best, jac, converged = x1.copy(), None, True
    if keep:
        x_best, jac, converged = _solve(residuals, x1, keep, lo, hi, max_nfev=8)
    values = dict(zip(names, np.exp(x_best), strict=True))
    cov = _sandwich(jac, corr) if jac is not None else None
    m_fit = sim_moments(x_best)
    estimates = []
    for i, n in enumerate(names):
        if i in keep and cov is not None:
            k = keep.index(i)
            v = float(values[n] * np.sqrt(max(cov[k, k], 0.0)))
            estimates.append(Estimate(n, float(values[n]), v if np.isfinite(v) else None,
                                      base[n], FITTED.get(n, "joins")))
        else:
            estimates.append(Estimate(n, float(base[n]), None, base[n], FITTED.get(n, "joins")))
    params = {e.name: _round(e.value) for e in estimates if e.se is not None}
    mo = {MOMENT_NAMES[j]: float(m_obs[k]) for k, j in enumerate(used)}
    mf = {MOMENT_NAMES[j]: float(m_fit[k]) for k, j in enumerate(used)}
    return FitResult(estimates, params, mo, mf, sim.calls, converged, notes)


PRESTEPS = 3  # proportional steps before the least-squares search
COV_RUNS = 8  # independent histories that estimate the moments' covariance


def _jacobian(f: Callable[[np.ndarray], np.ndarray], x: np.ndarray, idx: list[int],
              hi: np.ndarray) -> np.ndarray:
    """Forward differences of a fixed STEP in each parameter of ``idx``: with common random
    numbers a smaller step sees the dice, not the slope."""
    f0 = f(x)
    cols = []
    for i in idx:
        step = STEP if x[i] + STEP <= hi[i] else -STEP
        xi = x.copy()
        xi[i] += step
        cols.append((f(xi) - f0) / step)
    return np.stack(cols, axis=1)


def _solve(f: Callable[[np.ndarray], np.ndarray], x0: np.ndarray, keep: list[int],
           lo: np.ndarray, hi: np.ndarray, max_nfev: int
           ) -> tuple[np.ndarray, np.ndarray, bool]:
    """Least squares over the parameters ``keep`` (the rest held at ``x0``)."""
    from scipy.optimize import least_squares

    def sub(z: np.ndarray) -> np.ndarray:
        x = x0.copy()
        x[keep] = z
        return f(x)

    def jac(z: np.ndarray) -> np.ndarray:
        x = x0.copy()
        x[keep] = z
        return _jacobian(f, x, keep, hi)

    res = least_squares(sub, x0[keep], jac=jac, bounds=(lo[keep], hi[keep]), x_scale=1.0,
                        max_nfev=max_nfev, xtol=1e-3, ftol=1e-4)
    x = x0.copy()
    x[keep] = res.x
    return x, res.jac, bool(res.success)


def _sandwich(jac: np.ndarray, corr: np.ndarray) -> np.ndarray | None:
    """Covariance of the log-parameters: (J'J)^-1 J' C J (J'J)^-1 (residuals already in
    standard-error units, C their correlation)."""
    try:
        bread = np.linalg.inv(jac.T @ jac)
    except np.linalg.LinAlgError:
        return None
    return bread @ jac.T @ corr @ jac @ bread


def _round(x: float) -> float:
    """Four significant digits: more than the data support, fewer than noise."""
    return float(f"{x:.4g}")
