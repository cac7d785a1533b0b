"""The group commit in a child process (what `sopctl serve` runs): batching, the parent's
claims, a child that dies, a failing event among others, Ctrl-C to the process group."""

from __future__ import annotations

import json
import logging
import os
import signal
import subprocess
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest
import sqlalchemy as sa

from sopctl.events.engine import EventEngine
from sopctl.events.server import ServeConfig
from sopctl.run.ledger import Ledger, deliveries
from tests.events.conftest import pg_or_skip, serving, unique
from tests.events.test_processes import PB, _outbox, _signed, _start
from tests.events.test_serve import SECRET, post_events


class Batches:
    """Metrics stand-in: counts the batches the child committed."""

    def __init__(self) -> None:
        self.n = 0

    def claim_latency(self, _s: float) -> None:
        self.n += 1

    def __getattr__(self, name: str):  # every other metric: ignored
        return lambda *a, **k: None


@pytest.fixture
def served(pb, store):
    ledger = Ledger(store)
    engine = EventEngine(pb, ledger, name=unique(pb.name))
    metrics = Batches()
    with serving(engine, ServeConfig(secret=SECRET), process=True, metrics=metrics) as (
            server, base), httpx.Client(base_url=base, timeout=20) as client:
        yield server.receiver, engine, client, metrics
    ledger.close()


def _question(i: int, member: str | None = None) -> dict:
    return {"id": f"q-{i}", "type": "message", "group": "g001",
            "member": member or f"u{i}", "text": "请问多少钱"}


def test_concurrent_requests_are_committed_in_shared_batches(served):
    receiver, engine, client, metrics = served
    with ThreadPoolExecutor(48) as pool:
        codes = list(pool.map(lambda i: post_events(client, _question(i)).status_code,
                              range(96)))
    assert codes == [200] * 96
    assert 1 <= metrics.n < 96  # requests that arrived during a commit went in one batch
    assert all(engine.store.seen(f"q-{i}") for i in range(96))
    with engine.ledger.engine.connect() as c:
        rows = c.execute(sa.select(deliveries.c.key, deliveries.c.claimed_by).where(
            deliveries.c.playbook == engine.name)).all()
    assert rows  # the auto-reply (once per cool-down)
    # claimed under the serving process's id: its sender owns (and renews) them
    assert {by for _k, by in rows} == {engine.ledger.runner_id}
    assert post_events(client, _question(5)).json() == {"accepted": 1, "actions": 0}
    child = receiver.writer.proc.process
    assert child.poll() is None and child.pid != os.getpid()


def test_a_child_that_dies_is_replaced(served, caplog):
    receiver, engine, client, _m = served
    assert post_events(client, _question(1)).status_code == 200
    old = receiver.writer.proc.process
    with caplog.at_level(logging.ERROR, logger="sopctl.events"):
        os.kill(old.pid, signal.SIGKILL)
        end = time.monotonic() + 30
        while getattr(receiver.writer.proc, "process", old) is old and time.monotonic() < end:
            time.sleep(0.05)
        r = post_events(client, _question(2))
    assert receiver.writer.proc.process is not old and old.poll() is not None
    assert r.status_code == 200 and r.json()["actions"] == 1
    assert engine.ledger_status("reply/g001/q-2") == "claimed"
    assert "the commit process is gone (it exited); starting another" in caplog.text


def test_stop_ends_the_child_after_its_commit(pb, store):
    ledger = Ledger(store)
    engine = EventEngine(pb, ledger, name=unique(pb.name))
    with serving(engine, ServeConfig(secret=SECRET), process=True) as (server, base):
        child = server.receiver.writer.proc.process
        assert httpx.post(base + "/events", content=json.dumps(_question(1)).encode(),
                          headers=_signed(json.dumps(_question(1)).encode())).status_code == 200
    assert child.wait(10) == 0
    assert engine.store.seen("q-1")
    ledger.close()


@pytest.mark.postgres
def test_a_failing_event_fails_alone(pb):
    """PostgreSQL refuses a member id over 200 characters: that request gets 500, the
    others committed in the same round get 200 and are stored."""
    store = pg_or_skip()
    ledger = Ledger(store)
    engine = EventEngine(pb, ledger, name=unique(pb.name))
    bad = "x" * 300
    with serving(engine, ServeConfig(secret=SECRET), process=True) as (_server, base), \
            httpx.Client(base_url=base, timeout=20) as client:
        go = threading.Barrier(12)

        def post(i: int) -> int:
            go.wait()
            return post_events(client, _question(i, bad if i == 7 else None)).status_code

        with ThreadPoolExecutor(12) as pool:
            codes = list(pool.map(post, range(12)))
    assert codes == [500 if i == 7 else 200 for i in range(12)]
    assert not engine.store.seen("q-7")
    assert all(engine.store.seen(f"q-{i}") for i in range(12) if i != 7)
    ledger.close()


def test_ctrl_c_to_the_process_group_stops_gracefully(tmp_path, store):
    """A terminal's Ctrl-C reaches serve and its commit process at once: the child keeps
    committing until serve has finished its requests and closes the pipe."""
    name = unique("中断")
    out = tmp_path / "out.jsonl"
    pb = tmp_path / "pb.yaml"
    pb.write_text(PB.format(name=name, out=out), encoding="utf-8")
    p, base = _start(pb, store, tmp_path / "st")
    for i in range(5):
        body = json.dumps(_question(i), ensure_ascii=False).encode()
        assert httpx.post(base + "/events", content=body, headers=_signed(body),
                          timeout=10).status_code == 200
    kids = subprocess.run(["pgrep", "-P", str(p.pid)], capture_output=True, text=True)
    child = [int(x) for x in kids.stdout.split()]
    assert child, "serve runs its commit process"
    for pid in (p.pid, *child):  # as the terminal does, to its foreground process group
        os.kill(pid, signal.SIGINT)
    _o, err = p.communicate(timeout=60)
    assert p.returncode == 0 and "Traceback" not in err, err
    assert sorted(x["key"] for x in _outbox(out)) == sorted(
        f"reply/g001/q-{i}" for i in range(5))
    for pid in child:
        with pytest.raises(ProcessLookupError):
            os.kill(pid, 0)


def test_every_event_kind_crosses_to_the_child_unchanged():
    import pickle
    from datetime import UTC, datetime

    from sopctl.events.types import KINDS, event_from_dict

    at = datetime(2026, 12, 3, 8, 0, tzinfo=UTC)
    extra = {"message": {"text": "看 www.x.cn", "mentions": ["a", "b"], "nickname": "小丽"},
             "join": {"nickname": "小丽", "scene": "qr", "source": "live"},
             "purchase": {"amount": 199.5, "product": "精华"}}
    events = [event_from_dict({"id": f"e-{k}", "type": k, "group": "g001", "member": "u1",
                               **extra.get(k, {})}, now=at) for k in KINDS]
    back = pickle.loads(pickle.dumps(events))
    assert back == events and [type(e) for e in back] == [type(e) for e in events]


@pytest.mark.postgres
def test_a_held_connection_that_breaks_is_replaced(pb):
    """The commit process keeps one connection; when the database drops it (a restart, an
    administrator), that batch fails and the next one opens a new connection."""
    from sopctl.events.types import event_from_dict

    ledger = Ledger(pg_or_skip())
    engine = EventEngine(pb, ledger, name=unique(pb.name), hold_connection=True)

    def ev(i: int):
        return event_from_dict({"id": f"h-{i}", "type": "checkin", "group": "g001",
                                "member": f"u{i}"})

    try:
        engine.handle(ev(1))
        held = engine._held
        pid = held.connection.dbapi_connection.info.backend_pid
        with ledger.engine.connect() as admin:
            admin.exec_driver_sql(f"SELECT pg_terminate_backend({int(pid)})")
        with pytest.raises(sa.exc.OperationalError):
            engine.handle(ev(2))
        assert engine.handle(ev(2)) is not None and engine._held is not held
        assert engine.handle(ev(3)) is not None
        assert all(engine.store.seen(f"h-{i}") for i in (1, 2, 3))
    finally:
        engine.close()
        ledger.close()


def _checkins(n: int, tag: str) -> list:
    from sopctl.events.types import event_from_dict

    return [(i, [event_from_dict({"id": f"{tag}-{i}", "type": "checkin", "group": "g001",
                                  "member": f"u{i}"})]) for i in range(n)]


def test_a_batch_takes_half_the_requests_in_flight():
    """All 40 requests in flight arrive together: the child commits 20, and the parent
    answers those while it commits the other 20 (not all 40 in one turn)."""
    from collections import deque

    from sopctl.events.committer import MAX_BATCH, MIN_BATCH, _take

    q = deque(_checkins(40, "t"))
    assert [t for t, _e in _take(q, 40)] == list(range(20)) and len(q) == 20
    assert len(_take(deque(_checkins(40, "t")), 2)) == MIN_BATCH  # light load: not one by one
    assert len(_take(deque(_checkins(MAX_BATCH + 9, "t")), 5000)) == MAX_BATCH
    big = (99, [e for _t, evs in _checkins(30, "b") for e in evs])
    q = deque([big, *_checkins(3, "s")])
    assert _take(q, 4) == [big] and len(q) == 3  # a request is never split


def test_the_child_commits_in_halves_and_everything_handed_in_before_a_stop(pb, store):
    from sopctl.events.committer import CommitProcess

    ledger = Ledger(store)
    engine = EventEngine(pb, ledger, name=unique(pb.name))
    proc = CommitProcess(engine)
    try:
        proc.send(_checkins(40, "a"), in_flight=40)
        first, _rows, _s = proc.receive()
        second, _rows, _s = proc.receive()
        assert [t for t, _r in first] == list(range(20))
        assert [t for t, _r in second] == list(range(20, 40))
        proc.send(_checkins(60, "z"), in_flight=60)  # 30 a turn; the socket closes at once
    finally:
        assert proc.close() == 0
    assert all(engine.store.seen(f"a-{i}") for i in range(40))
    assert all(engine.store.seen(f"z-{i}") for i in range(60))
    ledger.close()


def test_without_halving_a_transaction_takes_all_that_arrived(pb, tmp_path):
    from sopctl.events.committer import CommitProcess

    ledger = Ledger(f"sqlite:///{tmp_path / 'l.db'}")
    engine = EventEngine(pb, ledger, name=unique(pb.name))
    proc = CommitProcess(engine, halve=False)
    try:
        proc.send(_checkins(40, "w"), in_flight=40)
        results, _rows, _s = proc.receive()
        assert results == [(t, [1]) for t in range(40)]  # each check-in stored, its points
    finally:
        assert proc.close() == 0
        ledger.close()
