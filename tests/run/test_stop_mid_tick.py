"""A stop (SIGTERM) in the middle of a large tick hands back what it did not send, and the
rows the ledger shows ``sending`` are only the messages whose request was being written."""

from __future__ import annotations

import asyncio
from collections import Counter
from datetime import timedelta

import pytest

from sopctl.playbook.model import Channel as ChannelCfg
from sopctl.run.channels._common import BaseChannel
from sopctl.run.channels.base import SendResult
from sopctl.run.clock import FakeClock
from sopctl.run.delivery import DeliveryContext
from sopctl.run.ledger import HANDED_BACK, Ledger
from sopctl.run.metrics import Metrics
from sopctl.run.ratelimit import Limit
from sopctl.run.reload import check_playbook
from sopctl.run.runner import Book, Runner, RunOptions

from .conftest import RecordingChannel, sh, write_playbook


class StoppingChannel(RecordingChannel):
    """Asks its runner to stop as soon as the first message goes out."""

    runner: Runner | None = None

    async def send(self, msg, *, deadline=None):
        if self.runner is not None:
            self.runner.stop()
        return await super().send(msg, deadline=deadline)


def test_stop_mid_tick_leaves_the_rest_to_the_next_run(tmp_path, store_url):
    pb = write_playbook(tmp_path / "pb.yaml", groups=40)
    checked = check_playbook(str(pb))
    clock = FakeClock(sh(2026, 11, 24, 7, 30, 5))
    ch = StoppingChannel()
    r1 = Runner([Book(checked)], Ledger(store_url), clock,
                RunOptions(claim_chunk=5, concurrency=1),
                channels={"out": ch}, metrics=Metrics())
    ch.runner = r1
    asyncio.run(r1.run_once())
    first = {m.key for m in ch.sent}
    assert 0 < len(first) < 40  # stopped part-way: the rest was released or never claimed

    clock.advance(60)  # restarted a minute later, well inside the 30 min grace
    ch2 = RecordingChannel()
    r2 = Runner([Book(check_playbook(str(pb)))], Ledger(store_url), clock, RunOptions(),
                channels={"out": ch2}, metrics=Metrics())
    asyncio.run(r2.run_once())
    second = {m.key for m in ch2.sent}
    assert not first & second
    assert len(first | second) == 40
    assert r2.ledger.counts() == {"sent": 40}


def test_a_stop_sends_only_what_is_in_flight_and_hands_back_the_rest(tmp_path, store_url):
    """The stop comes with the first message of a 20-row chunk, one message in flight at a
    time: that one goes out, nothing else begins, and every other row this runner claimed
    is handed back."""
    pb = write_playbook(tmp_path / "pb.yaml", groups=60)
    clock = FakeClock(sh(2026, 11, 24, 7, 30, 5))
    ch = StoppingChannel()
    r = Runner([Book(check_playbook(str(pb)))], Ledger(store_url), clock,
               RunOptions(claim_chunk=20, concurrency=1), channels={"out": ch},
               metrics=Metrics())
    ch.runner = r
    asyncio.run(r.run_once())
    rows = r.ledger.rows()
    got = Counter(x["status"] for x in rows)
    assert len(ch.sent) == 1 and got["sent"] == 1
    # the chunks the dispatcher had taken (up to concurrency + claim_chunk messages) and the
    # one claimed ahead: all handed back, none left claimed or sending
    assert set(got) == {"sent", "released"} and got["released"] >= 20, got
    assert {x["reason"] for x in rows if x["status"] == "released"} == {HANDED_BACK}
    assert r.metrics.queue_depth == 0


def test_handed_back_rows_are_sent_by_any_runner_whatever_the_last_tick(tmp_path, store_url):
    """The fleet case of issue 13: runner A hands rows back on a stop while runner B has
    already moved the shared last tick past them. B's next tick, and a runner started
    later, take them over: every one is sent once, none is lost."""
    pb = write_playbook(tmp_path / "pb.yaml", groups=50)
    clock = FakeClock(sh(2026, 11, 24, 7, 30, 5))
    a_ch, b_ch = StoppingChannel(), RecordingChannel()
    a = Runner([Book(check_playbook(str(pb)))], Ledger(store_url), clock,
               RunOptions(claim_chunk=50, concurrency=1), channels={"out": a_ch},
               metrics=Metrics())
    a_ch.runner = a
    b = Runner([Book(check_playbook(str(pb)))], Ledger(store_url), clock, RunOptions(),
               channels={"out": b_ch}, metrics=Metrics())
    asyncio.run(a.run_once())  # A claims all 50, sends one, hands 49 back
    assert a.ledger.counts() == {"sent": 1, "released": 49}
    clock.advance(5)
    b.ledger.set_tick("美肌测试", clock.now())  # B's last tick is already past 07:30
    assert b.ledger.next_expiry(["美肌测试"]) is not None  # an idle B wakes for them
    clock.advance(5)
    s = asyncio.run(b.run_once())
    assert s.counts == {"sent": 49}
    assert len(a_ch.sent) + len(b_ch.sent) == 50
    assert {m.key for m in a_ch.sent} | {m.key for m in b_ch.sent} == {
        x["key"] for x in b.ledger.rows()}
    assert b.ledger.counts() == {"sent": 50}


class ShiftingClock(FakeClock):
    """Virtual time for many concurrent sleepers: a sleep moves time to its own wake-up
    instant (the latest one wins), not forward by its length once per sleeper."""

    async def sleep(self, seconds: float) -> None:
        target = self.now() + timedelta(seconds=max(0.0, seconds))
        await asyncio.sleep(0)
        self.set(max(self.now(), target))


class ThrottledRobot(BaseChannel):
    """A robot allowing 3 posts a minute; at each request it reads the ledger (through
    another connection) to see what a crash at that instant would leave behind."""

    type = "throttled"

    def __init__(self, ledger: Ledger, **kw) -> None:
        super().__init__("out", ChannelCfg(type="console"), env={}, client=None, **kw)
        self.ledger = ledger
        self.sent: list[str] = []
        self.seen: list[Counter] = []

    def limits(self, part):
        return [Limit("robot", 3, 60.0)]

    async def attempt(self, part) -> SendResult:
        rows = {x["key"]: x["status"] for x in self.ledger.rows()}
        assert rows[part.key] == "sending", "a request left before its row was flipped"
        self.seen.append(Counter(rows.values()))
        self.sent.append(part.key)
        await asyncio.sleep(0.01)
        return SendResult("sent")


def test_rows_waiting_for_a_rate_limit_window_are_not_sending(tmp_path):
    """Twelve groups behind one 3/min robot: at every request the ledger shows at most
    `concurrency` rows `sending` — what a crash can make `uncertain` — while the others
    wait `claimed`, to be taken over and sent after a crash."""
    pb = write_playbook(tmp_path / "pb.yaml", groups=12)
    clock = ShiftingClock(sh(2026, 11, 24, 7, 30, 5))
    url = f"sqlite:///{tmp_path / 'l.db'}"
    watcher = Ledger(url)
    robot = ThrottledRobot(watcher, state_dir=tmp_path, ctx=DeliveryContext(clock=clock))
    opts = RunOptions(concurrency=2)
    r = Runner([Book(check_playbook(str(pb)))], Ledger(url), clock, opts,
               channels={"out": robot}, metrics=Metrics(), delivery_clock=clock)
    assert asyncio.run(r.run_once()).counts == {"sent": 12}
    assert len(robot.sent) == 12 and r.ledger.counts() == {"sent": 12}
    assert max(c["sending"] for c in robot.seen) <= opts.uncertain_bound == 2
    assert robot.seen[0]["claimed"] >= 9  # the others waited for a window, only claimed
    assert clock.now() - sh(2026, 11, 24, 7, 30, 5) >= timedelta(minutes=3)  # 4 windows
    watcher.close()


class BrokenLedger(Ledger):
    """Recording results fails with something other than the database being away."""

    def finish(self, playbook, outcomes, *, now, also=None):
        outcomes = list(outcomes)
        if outcomes:
            raise RuntimeError("results cannot be serialised")
        return 0


def test_a_writer_failure_ends_the_tick_with_its_error_instead_of_hanging(tmp_path):
    pb = write_playbook(tmp_path / "pb.yaml", groups=30)
    clock = FakeClock(sh(2026, 11, 24, 7, 30, 5))
    ch = RecordingChannel()
    r = Runner([Book(check_playbook(str(pb)))], BrokenLedger(f"sqlite:///{tmp_path / 'l.db'}"),
               clock, RunOptions(claim_chunk=10, concurrency=2),
               channels={"out": ch}, metrics=Metrics())

    async def main():
        return await asyncio.wait_for(r.run_once(), 20)

    with pytest.raises(RuntimeError, match="cannot be serialised"):
        asyncio.run(main())
    assert len(ch.sent) < 30  # sending stopped once the results could not be written


def test_run_options_refuse_sizes_that_would_stall_a_burst() -> None:
    for name in ("concurrency", "claim_chunk"):
        with pytest.raises(ValueError, match=name):
            RunOptions(**{name: 0})
