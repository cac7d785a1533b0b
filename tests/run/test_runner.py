"""The runner in-process, time from a fake clock: catch-up, idempotence, uncertain, reload."""

from __future__ import annotations

import asyncio
import io
import json
import random
import subprocess
import sys

import pytest

from sopctl.run.clock import FakeClock, SystemClock
from sopctl.run.ledger import Claim, Ledger, host_key
from sopctl.run.metrics import EventLog, Metrics
from sopctl.run.reload import check_playbook
from sopctl.run.runner import Book, Runner, RunOptions

from .conftest import RecordingChannel, sh, write_playbook


def make(tmp_path, url, clock, *, pb=None, status="sent", log=None, **opts):
    pb = pb or write_playbook(tmp_path / "pb.yaml")
    checked = check_playbook(str(pb))
    assert checked.playbook is not None, [f.short() for f in checked.findings]
    ch = RecordingChannel(status=status)
    runner = Runner([Book(checked)], Ledger(url), clock, RunOptions(**opts),
                    channels={"out": ch}, log=log, metrics=Metrics())
    return runner, ch


def run(coro):
    return asyncio.run(coro)


def by_status(led: Ledger) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for r in led.rows():
        out.setdefault(r["status"], []).append(f"{r['group_id']}/{r['slot']}")
    return out


def test_catch_up_within_grace_sends(tmp_path, store_url):
    clock = FakeClock(sh(2026, 11, 24, 7, 0))
    r1, _ = make(tmp_path, store_url, clock)
    run(r1.run_once())  # a tick at 07:00, nothing due
    clock.set(sh(2026, 11, 24, 7, 45))  # down from 07:00 to 07:45; grace is 30m
    r2, ch = make(tmp_path, store_url, clock)
    s = run(r2.run_once())
    assert s.counts == {"sent": 2}
    assert sorted(m.group_id for m in ch.sent) == ["g001", "g002"]
    assert ch.sent[0].text.startswith("早上好 美肌福利群00")
    assert by_status(r2.ledger) == {"sent": ["g001/morning", "g002/morning"]}


def test_catch_up_outside_grace_is_skipped(tmp_path, store_url):
    clock = FakeClock(sh(2026, 11, 24, 7, 0))
    r1, _ = make(tmp_path, store_url, clock)
    run(r1.run_once())
    clock.set(sh(2026, 11, 24, 11, 20))  # the 07:30 good-morning is not sent at 11:20
    r2, ch = make(tmp_path, store_url, clock)
    s = run(r2.run_once())
    assert s.counts == {"skipped": 2, "sent": 2}
    assert [m.text for m in ch.sent] == ["午间护肤小知识"] * 2
    rows = {(r["group_id"], r["slot"]): r for r in r2.ledger.rows()}
    assert rows[("g001", "morning")]["status"] == "skipped"
    assert rows[("g001", "morning")]["reason"] == "missed while down"
    assert rows[("g001", "noon")]["status"] == "sent"


def test_first_start_looks_back_the_largest_grace_only(tmp_path, store_url):
    clock = FakeClock(sh(2026, 11, 24, 8, 10))  # no tick yet: look back 1h (largest grace)
    r, ch = make(tmp_path, store_url, clock)
    s = run(r.run_once())
    assert s.counts == {"skipped": 2} and not ch.sent  # 07:30 is 40 min late
    clock2 = FakeClock(sh(2026, 11, 24, 8, 40))
    r2, _ = make(tmp_path, store_url, clock2, since=sh(2026, 11, 23, 8, 40))
    s2 = run(r2.run_once())  # --since 24h: yesterday's 11:00 and 19:30 recorded skipped
    assert s2.counts == {"skipped": 4} and s2.already == 2


def test_once_twice_in_the_same_minute_sends_nothing_twice(tmp_path, store_url):
    clock = FakeClock(sh(2026, 11, 24, 7, 30, 5))
    r1, ch1 = make(tmp_path, store_url, clock)
    assert run(r1.run_once()).counts == {"sent": 2}
    clock.advance(30)
    r2, ch2 = make(tmp_path, store_url, clock, since=sh(2026, 11, 24, 7, 0))
    s = run(r2.run_once())
    assert not ch2.sent and s.counts == {} and s.already == 2
    assert len(ch1.sent) == 2 and len(r2.ledger.rows()) == 2


def test_failures_are_recorded_with_reason(tmp_path, store_url):
    clock = FakeClock(sh(2026, 11, 24, 19, 31))
    r, _ = make(tmp_path, store_url, clock, status="failed")
    assert run(r.run_once()).counts == {"failed": 2}
    assert {x["reason"] for x in r.ledger.rows(statuses=["failed"])} == {"platform said no"}


def _dead_pid() -> int:
    p = subprocess.Popen([sys.executable, "-c", "pass"])
    p.wait()
    return p.pid


def test_abandoned_claim_is_uncertain_and_resent_only_on_request(tmp_path, store_url):
    clock = FakeClock(sh(2026, 11, 24, 7, 31))
    dead = Ledger(store_url, runner_id=f"{host_key()}:{_dead_pid()}:x")
    dead.claim("美肌测试", [Claim("g001/morning/2026-11-24/0", "g001", "morning", 0,
                                sh(2026, 11, 24, 7, 30))], now=clock.now())
    dead.start_sending("美肌测试", ["g001/morning/2026-11-24/0"], now=clock.now())
    r, ch = make(tmp_path, store_url, clock)
    s = run(r.run_once())
    assert [m.group_id for m in ch.sent] == ["g002"]  # g001 may have gone out: not re-sent
    assert s.counts == {"sent": 1} and s.already == 1
    st = {x["group_id"]: x["status"] for x in r.ledger.rows()}
    assert st == {"g001": "uncertain", "g002": "sent"}
    clock.advance(60)
    r2, ch2 = make(tmp_path, store_url, clock, resend_uncertain=True,
                   since=sh(2026, 11, 24, 7, 0))
    assert run(r2.run_once()).counts == {"sent": 1}
    assert [m.group_id for m in ch2.sent] == ["g001"]
    [row] = r2.ledger.rows(group="g001")
    assert row["status"] == "sent" and row["attempts"] == 2


def test_a_dead_claim_taken_over_past_its_grace_is_skipped_and_counted_once(tmp_path,
                                                                            store_url):
    clock = FakeClock(sh(2026, 11, 24, 8, 20))  # 07:30 + 30 min grace is over
    dead = Ledger(store_url, runner_id=f"{host_key()}:{_dead_pid()}:x")
    dead.claim("美肌测试", [Claim("g001/morning/2026-11-24/0", "g001", "morning", 0,
                                sh(2026, 11, 24, 7, 30))], now=sh(2026, 11, 24, 7, 30))
    r, ch = make(tmp_path, store_url, clock, since=sh(2026, 11, 24, 7, 0))
    s = run(r.run_once())
    assert not ch.sent
    assert s.counts == {"skipped": 2} and s.already == 0  # not also "already handled"
    st = {x["group_id"]: x["reason"] for x in r.ledger.rows()}
    assert "taken over past its grace" in st["g001"] and st["g002"] == "missed while down"


def test_dry_run_claims_nothing(tmp_path, store_url):
    clock = FakeClock(sh(2026, 11, 24, 7, 35))
    r, ch = make(tmp_path, store_url, clock, dry_run=True)
    s = run(r.run_once())
    assert len(s.dry) == 2 and not ch.sent and r.ledger.rows() == []


def test_hot_reload_good_and_bad_edits(tmp_path):
    url = f"sqlite:///{tmp_path / 'l.db'}"
    pb = write_playbook(tmp_path / "pb.yaml")
    buf = io.StringIO()
    clock = FakeClock(sh(2026, 11, 24, 7, 0))
    r, ch = make(tmp_path, url, clock, pb=pb, log=EventLog("json", buf))
    run(r.run_once())
    # a bad edit: the error is logged, located, and the old plan keeps running
    good = pb.read_text(encoding="utf-8")
    pb.write_text(good.replace("Asia/Shanghai", "Asia/Beijing"), encoding="utf-8")
    r.check_reload()
    logged = [json.loads(line) for line in buf.getvalue().splitlines()]
    rejected = [x for x in logged if x["event"] == "reload-rejected"]
    assert rejected and any(":3:" in f and "SOP013" in f for f in rejected[0]["findings"])
    assert r.metrics.reloads["rejected"] == 1
    # a good edit replaces the plan for future occurrences
    pb.write_text(write_playbook(tmp_path / "x.yaml", morning="新版早安").read_text("utf-8"),
                  encoding="utf-8")
    r.check_reload()
    assert r.metrics.reloads["ok"] == 1
    r.check_reload()  # unchanged file: no second reload
    assert r.metrics.reloads["ok"] == 1
    clock.set(sh(2026, 11, 24, 7, 31))
    run(r.tick(clock.now()))
    assert {m.text for m in ch.sent} == {"新版早安"}


def test_run_forever_wakes_at_the_next_occurrence_and_stops(tmp_path):
    url = f"sqlite:///{tmp_path / 'l.db'}"
    clock = SystemClock(sh(2026, 11, 24, 7, 29, 59))  # one real second before 07:30
    r, ch = make(tmp_path, url, clock, reload_every_s=30)

    async def main():
        task = asyncio.create_task(r.run_forever())
        for _ in range(400):  # up to 20 s on a loaded machine
            await asyncio.sleep(0.05)
            if len(ch.sent) == 2:
                break
        r.stop()
        return await asyncio.wait_for(task, 10)

    s = run(main())
    assert s.counts["sent"] == 2 and len(ch.sent) == 2
    assert r.ledger.last_tick("美肌测试") >= sh(2026, 11, 24, 7, 30)


class JitteryChannel(RecordingChannel):
    """Answers after a random few milliseconds, so results come back out of order."""

    def __init__(self) -> None:
        super().__init__()
        self.rng = random.Random(7)

    async def send(self, msg, *, deadline=None):
        await asyncio.sleep(self.rng.uniform(0, 0.004))
        return await super().send(msg, deadline=deadline)


def test_many_groups_are_all_recorded(tmp_path):
    """1,200 groups in chunks of 50, 16 in flight, answers out of order: every message goes
    out once and every result lands on its own row; a second tick sends nothing."""
    n = 1200
    url = f"sqlite:///{tmp_path / 'l.db'}"
    pb = write_playbook(tmp_path / "pb.yaml", groups=n)
    clock = FakeClock(sh(2026, 11, 24, 7, 30, 1))
    checked = check_playbook(str(pb))
    ch = JitteryChannel()
    ch.status = "sent"
    r = Runner([Book(checked)], Ledger(url), clock, RunOptions(claim_chunk=50, concurrency=16),
               channels={"out": ch}, metrics=Metrics())
    assert run(r.run_once()).counts == {"sent": n}
    assert len(ch.sent) == n and len({m.key for m in ch.sent}) == n
    rows = r.ledger.rows()
    assert {x["key"] for x in rows} == {m.key for m in ch.sent}
    assert all(x["status"] == "sent" and x["attempts"] == 1 for x in rows)
    assert r.metrics.queue_depth == 0 and r.metrics.sends[("sent", "out")] == n
    clock.advance(60)
    r2 = Runner([Book(checked)], Ledger(url), clock, RunOptions(since=sh(2026, 11, 24, 7, 0)),
                channels={"out": ch}, metrics=Metrics())
    again = run(r2.run_once())
    assert again.counts == {} and again.already == n and len(ch.sent) == n


def test_daemon_adopts_an_edit_before_the_next_occurrence(tmp_path):
    url = f"sqlite:///{tmp_path / 'l.db'}"
    pb = write_playbook(tmp_path / "pb.yaml")
    clock = SystemClock(sh(2026, 11, 24, 7, 29, 58))
    r, ch = make(tmp_path, url, clock, pb=pb, reload_every_s=0.1)

    async def main():
        task = asyncio.create_task(r.run_forever())
        await asyncio.sleep(0.3)
        write_playbook(tmp_path / "pb.yaml", morning="改过的早安")
        for _ in range(400):  # up to 20 s on a loaded machine
            await asyncio.sleep(0.05)
            if len(ch.sent) == 2:
                break
        r.stop()
        await asyncio.wait_for(task, 10)

    run(main())
    assert r.metrics.reloads["ok"] == 1
    assert [m.text for m in ch.sent] == ["改过的早安"] * 2


def test_a_migrated_chat_is_reported_with_its_new_id(tmp_path, store_url):
    """Telegram moves a group that became a supergroup; the runner says what to change."""
    from sopctl.run.channels.base import SendResult

    class Migrating(RecordingChannel):
        async def send(self, msg, *, deadline=None):
            self.sent.append(msg)
            return SendResult("sent", response={"migrated_to_chat_id": -100999})

    clock = FakeClock(sh(2026, 11, 24, 19, 31))
    buf = io.StringIO()
    r, _ = make(tmp_path, store_url, clock, log=EventLog("json", buf))
    r.channels["out"] = Migrating()
    assert run(r.run_once()).counts == {"sent": 2}
    events = [json.loads(line) for line in buf.getvalue().splitlines()]
    moved = [e for e in events if e.get("event") == "chat-migrated"]
    assert len(moved) == 2 and {e["chat_id"] for e in moved} == {-100999}
    assert "set its chat_id to -100999" in moved[0]["message"]


def test_reload_builds_the_channels_a_new_version_changes(tmp_path):
    """A reload that moves the outbox rebuilds that channel (and only it); one whose channel
    cannot be built is refused as a whole and the running plan keeps its channels."""
    from sopctl.errors import SopctlError
    from sopctl.run.channelset import ChannelSet
    from sopctl.run.delivery import DeliveryContext

    pb = write_playbook(tmp_path / "pb.yaml")
    checked = check_playbook(str(pb))
    cs = ChannelSet(override=None, env={}, state_dir=tmp_path, ctx=DeliveryContext(),
                    client=None)
    assert cs.refresh([checked.playbook]) == ["out"]
    buf = io.StringIO()
    clock = FakeClock(sh(2026, 11, 24, 7, 0))
    r = Runner([Book(checked)], Ledger(f"sqlite:///{tmp_path / 'l.db'}"), clock, RunOptions(),
               channels=cs.channels, channel_set=cs, log=EventLog("json", buf),
               metrics=Metrics())
    run(r.run_once())
    first = cs.channels["out"]

    write_playbook(pb, extra=", path: moved.jsonl")
    assert r.check_reload() and r.metrics.reloads["ok"] == 1
    assert cs.channels["out"] is not first  # rebuilt: its settings changed
    clock.set(sh(2026, 11, 24, 7, 31))
    run(r.tick(clock.now()))
    assert len((tmp_path / "moved.jsonl").read_text("utf-8").splitlines()) == 2
    assert not (tmp_path / "outbox.jsonl").exists()

    # a channel the new version no longer uses is dropped, and closed by the next tick
    renamed = tmp_path / "renamed.yaml"
    renamed.write_text(pb.read_text("utf-8").replace("  out: {", "  out2: {")
                       .replace("channel: out", "channel: out2"), encoding="utf-8")
    cs2 = ChannelSet(override=None, env={}, state_dir=tmp_path, ctx=DeliveryContext(),
                     client=None)
    cs2.refresh([checked.playbook])
    assert cs2.refresh([check_playbook(str(renamed)).playbook]) == ["out2"]
    assert set(cs2.channels) == {"out2"} and len(cs2._retired) == 1
    run(cs2.aclose())
    assert not cs2._retired

    # a channel whose secret is missing: the set is left as it was
    bad = check_playbook(str(write_playbook(tmp_path / "bad.yaml", channel="webhook",
                                            extra=", url: \"${HOOK_URL_NOT_SET}\"")))
    before = dict(cs.channels)
    with pytest.raises(SopctlError, match="HOOK_URL_NOT_SET"):
        cs.refresh([bad.playbook])
    assert cs.channels == before
    # two new channels, the second unbuildable: the first is retired, not left open
    two = tmp_path / "two.yaml"
    two.write_text(pb.read_text("utf-8").replace(
        "  out: {", "  a1: {type: file, path: a1.jsonl}\n  out: {").replace(
        "path: moved.jsonl}", "path: moved.jsonl, remind: a1}"), encoding="utf-8")
    two_pb = check_playbook(str(two)).playbook
    assert two_pb is not None
    two_pb.channels["out"] = two_pb.channels["out"].model_copy(
        update={"type": "webhook", "url": "${HOOK_URL_NOT_SET}", "path": None})
    with pytest.raises(SopctlError, match="HOOK_URL_NOT_SET"):
        cs.refresh([two_pb])
    assert cs.channels == before and [c.name for c in cs._retired] == ["a1"]

    # the same through a reload: refused, located in the log, the old plan keeps running
    write_playbook(pb, channel="webhook", extra=", url: \"${HOOK_URL_NOT_SET}\"")
    assert not r.check_reload()
    logged = [json.loads(line) for line in buf.getvalue().splitlines()]
    assert any(x["event"] == "reload-rejected" and "cannot be built" in x["message"]
               and "HOOK_URL_NOT_SET" in x["message"] for x in logged), logged
    assert r.metrics.reloads == {"ok": 1, "rejected": 1}
    clock.set(sh(2026, 11, 24, 11, 1))
    run(r.tick(clock.now()))
    assert len((tmp_path / "moved.jsonl").read_text("utf-8").splitlines()) == 4
    run(cs.aclose())


def test_a_reload_whose_channels_raise_anything_is_refused_not_fatal(tmp_path):
    from sopctl.run.channelset import ChannelSet
    from sopctl.run.delivery import DeliveryContext

    class Fragile(ChannelSet):
        fail = False

        def refresh(self, playbooks, where=None):
            if self.fail:
                raise ValueError("malformed URL")
            return super().refresh(playbooks, where)

    pb = write_playbook(tmp_path / "pb.yaml")
    checked = check_playbook(str(pb))
    cs = Fragile(override=None, env={}, state_dir=tmp_path, ctx=DeliveryContext(), client=None)
    cs.refresh([checked.playbook])
    buf = io.StringIO()
    r = Runner([Book(checked)], Ledger(f"sqlite:///{tmp_path / 'l.db'}"),
               FakeClock(sh(2026, 11, 24, 7, 0)), RunOptions(), channels=cs.channels,
               channel_set=cs, log=EventLog("json", buf), metrics=Metrics())
    cs.fail = True
    write_playbook(pb, morning="新版早安")
    assert not r.check_reload()
    assert "ValueError: malformed URL" in buf.getvalue()
    assert r.metrics.reloads == {"rejected": 1}
