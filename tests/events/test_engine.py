"""Engine: member store + ledger in one transaction, idempotent by event id."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from sopctl.events.engine import EventEngine, UnknownGroup
from sopctl.events.types import CheckIn, MemberJoined, MemberLeft, MessagePosted, Purchase
from sopctl.run.ledger import Ledger

T0 = datetime(2026, 11, 24, 2, 0, tzinfo=UTC)


@pytest.fixture
def ledger(tmp_path):
    led = Ledger(f"sqlite:///{tmp_path / 'ledger.db'}")
    yield led
    led.close()


@pytest.fixture
def eng(pb, ledger):
    return EventEngine(pb, ledger, now=lambda: T0)


def join(i, group="g001", at=T0, nick=None):
    return MemberJoined(f"j{i}", group, f"u{i}", at, nickname=nick or f"北京-美妆-{i}号")


def test_join_welcome_batched_and_recorded_once(eng):
    eng.handle(join(1))
    eng.handle(join(2, at=T0 + timedelta(seconds=40)))
    assert eng.tick(T0 + timedelta(minutes=1)) == []
    (w,) = eng.tick(T0 + timedelta(minutes=3))
    assert w.key == "welcome/g001/j1" and w.mentions == ("u1", "u2")
    assert eng.ledger_status("welcome/g001/j1") == "claimed"
    # redelivery of either join: nothing new
    assert eng.handle(join(1)) == [] and eng.handle(join(2)) == []
    assert eng.tick(T0 + timedelta(minutes=10), force=True) == []
    rows = eng.ledger.rows(playbook=eng.name)
    assert [r["key"] for r in rows] == ["welcome/g001/j1"]
    assert rows[0]["slot"] == "welcome" and rows[0]["channel"] == "console"


def test_pending_welcome_survives_a_restart(pb, ledger):
    e1 = EventEngine(pb, ledger, now=lambda: T0)
    e1.handle(join(1))
    e2 = EventEngine(pb, ledger, now=lambda: T0 + timedelta(minutes=1))
    (w,) = e2.tick(T0 + timedelta(minutes=5))
    assert w.mentions == ("u1",)
    e3 = EventEngine(pb, ledger, now=lambda: T0 + timedelta(minutes=6))
    assert e3.tick(T0 + timedelta(minutes=20), force=True) == []


def test_member_who_left_before_the_welcome_is_left_out(eng):
    eng.handle(join(1))
    eng.handle(join(2))
    eng.handle(MemberLeft("l2", "g001", "u2", T0 + timedelta(seconds=5)))
    (w,) = eng.tick(T0 + timedelta(minutes=3))
    assert w.mentions == ("u1",)
    assert eng.store.get("g001", "u2")["left_at"] is not None


def test_ladder_through_the_store_and_blacklist_across_groups(eng):
    eng.handle(join(1))
    a1 = eng.handle(MessagePosted("m1", "g001", "u1", T0, text="加微信 领券"))
    assert [a.kind for a in a1] == ["post"] and a1[0].key == "warn/g001/m1"
    assert eng.store.get("g001", "u1")["violations"] == 1
    a2 = eng.handle(MessagePosted("m2", "g001", "u1", T0, text="加微信"))
    # WeCom has no removal API for customer groups: the admin is reminded
    assert [a.kind for a in a2] == ["remind", "post", "blacklist"]
    assert eng.ledger_status("remove/g001/m2") == "claimed"
    # the same person joining another group is turned away, not welcomed
    a3 = eng.handle(MemberJoined("j9", "g002", "u1", T0, nickname="x"))
    assert [a.kind for a in a3] == ["remind"] and "g002" not in eng.pending_welcomes()
    assert eng.handle(MessagePosted("m2", "g001", "u1", T0, text="加微信")) == []


def test_auto_reply_is_recorded_with_event_key(eng):
    (a,) = eng.handle(MessagePosted("m1", "g001", "u5", T0, text="多少钱", nickname="上海-IT-阿强"))
    assert a.key == "reply/g001/m1" and eng.ledger_status(a.key) == "claimed"
    assert eng.handle(MessagePosted("m2", "g001", "u5", T0, text="多少钱")) == []  # cool-down


def test_purchase_promotes_and_checkin_scores(eng):
    eng.handle(join(3))
    acts = eng.handle(Purchase("p1", "g001", "u3", T0, amount=9.9, product="trial"))
    assert [a.kind for a in acts] == ["promote", "post"]
    row = eng.store.get("g001", "u3")
    assert row["stage"] == "transit" and row["spend"] == 9.9 and row["bought"] == ["trial"]
    eng.handle(CheckIn("c1", "g001", "u3", T0))
    eng.handle(CheckIn("c2", "g001", "u3", T0 + timedelta(hours=1)))
    eng.handle(CheckIn("c3", "g001", "u3", T0 + timedelta(days=1)))
    assert eng.store.get("g001", "u3")["points"] == 4


def test_overdue_members_move_on(eng):
    eng.handle(join(4, at=T0 - timedelta(days=20)))
    (a,) = eng.sweep(T0)
    assert a.data["to"] == "sales" and eng.store.get("g001", "u4")["stage"] == "sales"


def test_unknown_group_is_refused_and_nothing_stored(eng):
    with pytest.raises(UnknownGroup):
        eng.handle(MemberJoined("jx", "nope", "u1", T0))
    assert not eng.store.seen("jx")
    assert eng.resolve_group("wrOgAAA001") == "g001"


def test_dedup_export_and_forget(eng):
    eng.handle(join(1, at=T0))
    eng.handle(MemberJoined("j1b", "g002", "u1", T0 + timedelta(hours=1), nickname="n"))
    assert eng.store.duplicates() == {"u1": ["g001", "g002"]}
    eng.store.duplicates(mark=True)
    assert eng.store.get("g002", "u1")["tags"] == ["duplicate"]
    assert eng.store.get("g001", "u1")["tags"] == []
    data = eng.store.export("u1")
    assert {g["group_id"] for g in data["groups"]} == {"g001", "g002"}
    assert eng.store.forget("u1") == 2
    assert eng.store.export("u1")["groups"] == []
    assert eng.handle(join(1)) == []  # still idempotent after forgetting


def test_one_group_commit_sees_its_own_earlier_events(eng):
    """Events of one batch are read and written together, yet each sees what the ones
    before it changed: the second offence climbs the ladder, a join then a leave leaves
    nobody waiting, a redelivery inside the batch does nothing."""
    ad = "加微信 领券"
    out = eng.handle_batch([
        join(1), MessagePosted("m1", "g001", "u1", T0, text=ad),
        MessagePosted("m1", "g001", "u1", T0, text=ad),  # the same event twice
        MessagePosted("m2", "g001", "u1", T0, text=ad),
        join(2), MemberLeft("l2", "g001", "u2", T0 + timedelta(seconds=1)),
        MemberJoined("j9", "g002", "u1", T0, nickname="x")])
    assert [a.kind for a in out[1]] == ["post"] and out[2] == []
    assert [a.kind for a in out[3]] == ["remind", "post", "blacklist"]
    assert [a.kind for a in out[6]] == ["remind"]  # barred by the batch's own blacklist
    assert eng.store.get("g001", "u1")["violations"] == 2
    assert eng.pending_welcomes() == {"g001": ["u1"]}
