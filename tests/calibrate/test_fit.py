"""Recovery: data the forecast engine generates with known parameters is fitted back."""

from __future__ import annotations

from datetime import date

import numpy as np
import pytest

from sopctl.calibrate.backtest import backtest
from sopctl.calibrate.fit import fit, long_run_se, moments
from sopctl.calibrate.synthetic import generate
from sopctl.playbook.loader import load_playbook

START = date(2026, 5, 1)
TRUTHS = {
    "defaults": {},
    "slow, chatty, leaky": {"join_scale": 0.4, "churn_base": 0.008, "speak_scale": 0.3,
                            "messages_per_active": 4.0},
    "busy, quiet, loyal": {"join_scale": 2.5, "churn_base": 0.001, "speak_scale": 0.08,
                           "messages_per_active": 1.0, "convert_rate": 0.02},
}


@pytest.fixture(scope="module")
def skincare():
    return load_playbook("playbooks/skincare.yaml").playbook


@pytest.mark.parametrize("name", list(TRUTHS))
def test_parameters_are_recovered(skincare, name):
    truth = TRUTHS[name]
    obs = generate(skincare, start=START, days=120, groups=25, params=truth, seed=7)
    result = fit(skincare, obs, seed=1)
    assert result.converged
    for e in result.estimates:
        want = truth.get(e.name, e.default)
        assert e.se is not None, f"{e.name} not identified"
        # stated tolerance: within 3 standard errors, and an error bar that excludes 0
        assert abs(e.value - want) <= 3 * e.se, (e.name, e.value, e.se, want)
        assert e.se < want, (e.name, e.se, want)


def test_a_parameter_the_data_cannot_move_is_reported_not_fitted(skincare):
    # without a funnel nobody can convert, whatever convert_rate says: the data's
    # conversions cannot inform it, so it keeps its value and says so
    minimal = load_playbook("examples/minimal.yaml").playbook
    assert minimal.funnel is None
    obs = generate(minimal, start=START, days=60, groups=10, seed=3)
    obs.conversions = np.zeros(obs.days)
    result = fit(minimal, obs, seed=1)
    conv = next(e for e in result.estimates if e.name == "convert_rate")
    assert conv.se is None and conv.value == conv.default
    assert "convert_rate" not in result.params and "convert_rate" in result.notes


def test_standard_errors_follow_the_data():
    rng = np.random.default_rng(0)
    short, long = rng.normal(size=(50, 1)), rng.normal(size=(5000, 1))
    assert long_run_se(long)[0] < long_run_se(short)[0] / 5


def test_moments_of_a_known_series():
    days = 20
    s = {"members": np.full(days, 100.0), "joins": np.full(days, 5.0),
         "leaves": np.full(days, 2.0), "active": np.full(days, 10.0),
         "messages": np.full(days, 30.0)}
    m, _ = moments(s)
    assert m[0] == 5.0 and m[1] == pytest.approx(0.02) and m[2] == pytest.approx(0.1)
    assert m[3] == pytest.approx(3.0) and m[4] == pytest.approx(0.0)


def test_backtest_beats_both_baselines_on_generated_data(skincare):
    truth = TRUTHS["slow, chatty, leaky"]
    obs = generate(skincare, start=START, days=100, groups=25, params=truth, seed=11)
    bt = backtest(skincare, obs, 21, seed=1)
    mean = {c: np.mean([e[c] for e in bt.errors.values()]) for c in
            ("calibrated", "last_value", "defaults")}
    assert mean["calibrated"] < mean["last_value"] and mean["calibrated"] < mean["defaults"]
    for k in ("members", "active", "messages"):
        assert bt.errors[k]["calibrated"] < bt.errors[k]["defaults"], k
    band = bt.bands["members"]
    assert (band[0] <= band[1]).all() and (band[1] <= band[2]).all()
