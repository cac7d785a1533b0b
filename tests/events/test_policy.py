"""The shared policy: the runner's reactions and the forecast decide by the same functions."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sopctl.events import policy
from sopctl.events import reactions as r
from sopctl.events.types import MessagePosted
from sopctl.playbook.model import Entry
from sopctl.simulate.model import build_world

T0 = datetime(2026, 11, 24, 9, 0, tzinfo=UTC)


@pytest.mark.parametrize(("ladder", "steps"), [
    (["warn", "remove"], ["none", "warn", "remove", "remove", "remove"]),
    (["warn", "mute", "remove", "blacklist"],
     ["none", "warn", "mute", "remove", "blacklist", "blacklist"]),
    (["remove"], ["none", "remove", "remove"]),
    ([], ["none", "none"]),
])
def test_ladder_steps_by_count(ladder, steps):
    assert [policy.ladder_step(n, ladder) for n in range(len(steps))] == steps


@given(st.integers(1, 50), st.lists(st.sampled_from(["warn", "mute", "remove", "blacklist"]),
                                    min_size=1, max_size=5))
def test_ladder_is_climbed_once_then_its_last_rung_repeats(extra, ladder):
    climbed = [policy.ladder_step(n, ladder) for n in range(1, len(ladder) + 1)]
    assert climbed == ladder
    assert policy.ladder_step(len(ladder) + extra, ladder) == ladder[-1]


def test_entry_criteria():
    cards = {"card"}
    assert policy.entry_met(Entry(kind="free"), 0, [])
    assert policy.entry_met(Entry(kind="product", product="trial"), 0, ["trial"])
    assert not policy.entry_met(Entry(kind="product", product="trial"), 999, ["card"])
    assert policy.entry_met(Entry(kind="spend", amount=500), 500, [])
    assert not policy.entry_met(Entry(kind="spend", amount=500), 499.9, ["trial"])
    assert policy.entry_met(Entry(kind="membership"), 0, ["card"], cards)
    assert not policy.entry_met(Entry(kind="membership"), 0, ["trial"], cards)
    assert not policy.entry_met(Entry(kind="invite"), 10**6, ["card"], cards)


def test_next_stage_and_cheapest_entry(pb):
    assert policy.next_stage(pb.funnel, "pond").id == "transit"  # unset: the following
    assert policy.next_stage(pb.funnel, "nope") is None
    transit, core, sales = pb.funnel.stages[1:]
    assert policy.cheapest_entry(pb, transit, 0, ()) == (9.9, "trial")
    # a spend threshold: the shortfall, given what the member already spent
    assert policy.cheapest_entry(pb, core, 9.9, ("trial",)) == (490.1, None)
    assert policy.cheapest_entry(pb, core, 600, ()) == (0.0, None)
    assert policy.cheapest_entry(pb, sales, 0, ()) is None  # invitation: people decide


def test_explicit_null_next_ends_the_funnel(pb):
    stages = [s.model_copy() for s in pb.funnel.stages]
    stages[2] = pb.funnel.stages[2].model_copy(update={"next": None})
    stages[2].model_fields_set.add("next")
    funnel = pb.funnel.model_copy(update={"stages": stages})
    assert policy.next_stage(funnel, "core") is None
    assert policy.next_stage(pb.funnel, "core").id == "sales"


def test_runner_and_forecast_use_the_same_ladder(pb):
    """Every violation count: the rung the runner takes equals the forecast's table."""
    world = build_world(pb, date(2026, 12, 1), 5, 1)
    rule = next(x for x in pb.rules.items if x.id == "no-ads")  # no own ladder
    for count in range(1, 6):
        m = r.MemberState("u1", "g001", nickname="x", violations=count)
        acts = r.violation_actions(pb, MessagePosted(f"m{count}", "g001", "u1", T0,
                                                     text="加微信"), m, rule, can_remove=True)
        k = min(count, len(world.ladder_steps) - 1)
        assert any(a.kind == "remove" for a in acts) == world.ladder_removes[k]
        assert any(a.kind == "blacklist" for a in acts) == world.ladder_blacklists[k]
        assert r.next_rung(pb, rule, count) == world.ladder_steps[k]


def test_runner_and_forecast_use_the_same_funnel(pb):
    world = build_world(pb, date(2026, 12, 1), 5, 1)
    ids = world.stages.ids
    for i, sid in enumerate(ids):
        nxt = policy.next_stage(pb.funnel, sid)
        assert world.stages.next[i] == (ids.index(nxt.id) if nxt else -1)
    # the forecast's pond->transit purchase promotes a member in the runner
    m = r.MemberState("u1", "g001", stage="pond")
    price = world.stages.price[ids.index("pond")]
    from sopctl.events.types import Purchase

    m = r.apply_purchase(m, Purchase("p1", "g001", "u1", T0, amount=price, product="trial"))
    assert [a.data.get("to") for a in r.promotion(pb, m, T0) if a.kind == "promote"] == \
        ["transit"]
    # invitation stages: neither the runner nor the forecast promotes on its own
    assert world.stages.pconv[ids.index("core")] == 0.0


@pytest.mark.parametrize("welcome", [True, False])
def test_welcome_applies_in_both(pb, welcome):
    pb2 = pb if welcome else pb.model_copy(update={"welcome": None})
    world = build_world(pb2, date(2026, 12, 1), 5, 1)
    assert world.welcome is welcome is policy.welcome_applies(pb2)
