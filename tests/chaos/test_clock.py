"""Time on a shared ledger: two runners on PostgreSQL, a New York playbook across both DST
changes and a Shanghai one; the whole fleet is down for three hours and catches up per slot
grace (inside: sent once; beyond: skipped, "missed while down")."""

from __future__ import annotations

import asyncio
from collections import Counter
from datetime import UTC, datetime, timedelta

import pytest

from sopctl.plan import build_plan
from sopctl.run.clock import FakeClock
from sopctl.run.ledger import Ledger
from sopctl.run.metrics import Metrics
from sopctl.run.reload import check_playbook
from sopctl.run.runner import SKIP_REASON, Book, Runner, RunOptions

from .harness import RecordingChannel, write_playbook

pytestmark = pytest.mark.postgres
GROUPS = 40


def utc(*a: int) -> datetime:
    return datetime(*a, tzinfo=UTC)


def run_fleet(tmp, store, name, tz, slots, ticks):
    """Two runners tick together at each instant of ``ticks`` (nothing runs in between)."""
    pb = write_playbook(tmp / f"{name}.yaml", groups=GROUPS, url="http://127.0.0.1:9/x",
                        slots=slots, tz=tz, name=name)
    checked = check_playbook(str(pb))
    assert checked.playbook is not None, [f.short() for f in checked.errors]
    clock = FakeClock(ticks[0])
    chans = [RecordingChannel() for _ in range(2)]
    runners = [Runner([Book(checked)], Ledger(store), clock, RunOptions(), channels={"out": c},
                      metrics=Metrics()) for c in chans]

    async def go():
        for t in ticks:
            clock.set(t)
            await asyncio.gather(*(r.run_once() for r in runners))

    asyncio.run(go())
    rows = runners[0].ledger.rows(playbook=name)
    for r in runners:
        r.ledger.close()
    sent = Counter(m.key for c in chans for m in c.sent)
    plan = [o for o in build_plan(checked.playbook, ticks[0], ticks[-1])
            if ticks[0] < o.at_utc <= ticks[-1]]
    return rows, sent, plan


def check(rows, sent, plan, ticks):
    """Each occurrence once; sent iff the first tick at or after it was inside its grace."""
    by_key = {r["key"]: r for r in rows}
    assert len(by_key) == len(rows) == len(plan)
    for o in plan:
        first = min(t for t in ticks if t >= o.at_utc)
        r = by_key[o.key]
        assert r["scheduled_utc"] == o.at_utc
        if (first - o.at_utc).total_seconds() <= o.grace_s:
            assert r["status"] == "sent" and sent[o.key] == 1, (o.key, r["status"])
        else:
            assert r["status"] == "skipped" and r["reason"] == SKIP_REASON, o.key
            assert sent[o.key] == 0
    assert all(n == 1 for n in sent.values())


def slot_status(rows, date: str) -> dict[str, tuple[str, datetime]]:
    out = {}
    for r in rows:
        if r["key"].startswith("g00000/") and f"/{date}/" in r["key"]:
            out[r["slot"]] = (r["status"], r["scheduled_utc"])
    return out


NY_SLOTS = [("01:30", "30m"), ("02:30", "3h"), ("03:00", "1h"), ("07:30", "30m")]


@pytest.mark.parametrize("day", ["spring-forward", "fall-back"])
def test_new_york_across_dst_down_three_hours(tmp_path, pg_db, day):
    if day == "spring-forward":  # 2026-03-08 02:00 EST -> 03:00 EDT
        down = utc(2026, 3, 8, 5, 45)  # 00:45 EST
        ticks = [down, down + timedelta(hours=3), utc(2026, 3, 8, 11, 35)]  # 04:45, 07:35 EDT
        want = {"s0": ("skipped", utc(2026, 3, 8, 6, 30)),  # 01:30 EST, 2h15 late
                "s1": ("sent", utc(2026, 3, 8, 7, 0)),  # 02:30 does not exist: 03:00 EDT
                "s2": ("skipped", utc(2026, 3, 8, 7, 0)),  # 03:00 EDT, 1h45 late > 1h
                "s3": ("sent", utc(2026, 3, 8, 11, 30))}  # 07:30 EDT
        date = "2026-03-08"
    else:  # 2026-11-01 02:00 EDT -> 01:00 EST
        down = utc(2026, 11, 1, 4, 45)  # 00:45 EDT
        ticks = [down, down + timedelta(hours=3), utc(2026, 11, 1, 8, 5),
                 utc(2026, 11, 1, 12, 35)]  # 02:45 EST, 03:05 EST, 07:35 EST
        want = {"s0": ("skipped", utc(2026, 11, 1, 5, 30)),  # the first 01:30 (EDT) only
                "s1": ("sent", utc(2026, 11, 1, 7, 30)),  # 02:30 EST, 15 min late
                "s2": ("sent", utc(2026, 11, 1, 8, 0)),  # 03:00 EST
                "s3": ("sent", utc(2026, 11, 1, 12, 30))}  # 07:30 EST
        date = "2026-11-01"
    rows, sent, plan = run_fleet(tmp_path, pg_db, "纽约社群", "America/New_York", NY_SLOTS,
                                 ticks)
    check(rows, sent, plan, ticks)
    assert slot_status(rows, date) == want
    assert len(rows) == 4 * GROUPS  # the repeated 01:30 is not sent twice


def test_shanghai_down_three_hours(tmp_path, pg_db):
    down = utc(2026, 11, 23, 22, 0)  # 06:00 in Shanghai
    ticks = [down, down + timedelta(hours=3), utc(2026, 11, 24, 2, 5)]  # 09:00, 10:05
    rows, sent, plan = run_fleet(tmp_path, pg_db, "上海社群", "Asia/Shanghai",
                                 [("07:30", "30m"), ("08:30", "2h"), ("10:00", "10m")], ticks)
    check(rows, sent, plan, ticks)
    assert slot_status(rows, "2026-11-24") == {
        "s0": ("skipped", utc(2026, 11, 23, 23, 30)), "s1": ("sent", utc(2026, 11, 24, 0, 30)),
        "s2": ("sent", utc(2026, 11, 24, 2, 0))}
