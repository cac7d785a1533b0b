"""The forecast applies the runner's ladder, welcome and funnel criteria (events.policy)."""

from __future__ import annotations

import numpy as np

from sopctl.playbook.model import Entry, Rules
from sopctl.simulate.model import build_world
from sopctl.simulate.reference import run_reference

from ._sim import START, load, one_group, simulate_once

HOT = {"violation_rate": 0.05}  # many violations, so the ladder shows in a short run


def _with_rules(pb, **update):
    return pb.model_copy(update={"rules": pb.rules.model_copy(update=update)})


def _removed(pb, seeds=range(3), days=30, params=HOT):
    runs = [simulate_once(pb, days, s, params=params) for s in seeds]
    return sum(r.series["removed"].sum() for r in runs), sum(r.blacklisted for r in runs)


def test_ladder_removes_and_blacklists():
    pb = one_group(load())
    removed, barred = _removed(pb)
    # 200 members, 5 % a day, removed at the second violation: most are gone in a month
    assert removed > 150 and barred == removed
    _, none_barred = _removed(_with_rules(pb, blacklist=False))
    assert none_barred == 0


def test_longer_ladder_removes_later_and_warn_only_never():
    pb = one_group(load())
    two, _ = _removed(pb)
    three, _ = _removed(_with_rules(pb, ladder=["warn", "warn", "remove"]))
    never, _ = _removed(_with_rules(pb, ladder=["warn"]))
    assert never == 0 and three < 0.8 * two


def test_no_enforced_rule_no_removal():
    pb = one_group(load()).model_copy(update={"rules": Rules()})
    assert build_world(pb, START, 5, 1).violation_p == 0.0
    assert _removed(pb) == (0, 0)


def test_removed_members_count_as_leaves():
    r = simulate_once(one_group(load()), 30, 1, params=HOT)
    assert np.all(r.series["leaves"] >= r.series["removed"])
    assert r.series["removed"].sum() > 0


def test_invitation_stage_gets_no_conversions():
    pb = load()
    stages = list(pb.funnel.stages)
    stages[1] = stages[1].model_copy(update={"entry": Entry(kind="invite")})  # transit
    pb2 = one_group(pb, funnel=pb.funnel.model_copy(update={"stages": stages}))
    params = {"convert_rate": 0.05}
    r = simulate_once(pb2, 20, 4, params=params)
    base = simulate_once(one_group(pb), 20, 4, params=params)
    assert r.conversions[1].sum() == 0 and base.conversions[1].sum() > 0


def test_conversion_price_follows_the_entry_criteria():
    w = build_world(load(), START, 5, 1)
    ids = w.stages.ids
    # pond -> transit: the trial product; transit -> core: spend 500 counting the trial
    assert w.stages.price[ids.index("pond")] == 9.9
    assert abs(w.stages.price[ids.index("transit")] - 490.1) < 1e-9
    assert w.stages.next[ids.index("core")] == -1  # `next: null`


def test_reference_applies_the_same_ladder():
    pb = one_group(load())
    ref = [run_reference(build_world(pb, START, 30, 1, HOT), s) for s in range(3)]
    removed = sum(sum(q["series"]["removed"]) for q in ref)
    fast, _ = _removed(pb)
    assert removed == sum(q["blacklisted"] for q in ref)
    assert abs(removed - fast) <= 0.15 * max(removed, fast)


def test_deterministic_with_the_ladder():
    pb = one_group(load())
    a, b = (simulate_once(pb, 20, 9, params=HOT) for _ in range(2))
    assert a.blacklisted == b.blacklisted
    for f in a.series:
        assert np.array_equal(a.series[f], b.series[f])
