"""The ledger on real SQLite and real PostgreSQL: claims are exclusive and durable."""

from __future__ import annotations

import contextlib
import subprocess
import sys
import threading
from datetime import UTC, datetime, timedelta

import pytest

from sopctl.run.ledger import Claim, Ledger, Outcome, normalise_url

from .conftest import at_once

NOW = datetime(2026, 11, 23, 23, 30, tzinfo=UTC)


def claims(n: int, prefix: str = "g") -> list[Claim]:
    return [Claim(f"{prefix}{i:05d}/morning/2026-11-24/0", f"{prefix}{i:05d}", "morning", 0,
                  NOW, "h", "out") for i in range(n)]


def test_normalise_url():
    assert normalise_url("postgresql://u@h/db") == "postgresql+psycopg://u@h/db"
    assert normalise_url("postgres://u@h/db") == "postgresql+psycopg://u@h/db"
    assert normalise_url("postgresql+psycopg://u@h/db") == "postgresql+psycopg://u@h/db"
    assert normalise_url("sqlite:///x.db") == "sqlite:///x.db"


def test_claim_is_exclusive_and_idempotent(store_url):
    a, b = Ledger(store_url), Ledger(store_url)
    cs = claims(900)  # more than one insert chunk
    won_a = a.claim("pb", cs[:600], now=NOW)
    won_b = b.claim("pb", cs, now=NOW)
    assert len(won_a) == 600 and len(won_b) == 300
    assert not set(won_a) & set(won_b)
    assert a.claim("pb", cs, now=NOW) == []
    # the same key in another playbook is another occurrence
    assert len(a.claim("other", cs[:5], now=NOW)) == 5
    assert a.counts() == {"claimed": 905}
    a.close(), b.close()


def test_concurrent_claims_from_threads(store_url):
    ledgers = [Ledger(store_url) for _ in range(4)]
    cs = claims(400)
    won: list[list[str]] = [[] for _ in ledgers]

    def go(i: int) -> None:
        won[i] = ledgers[i].claim("pb", cs, now=NOW)

    ts = [threading.Thread(target=go, args=(i,)) for i in range(4)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    flat = [k for w in won for k in w]
    assert sorted(flat) == sorted(c.key for c in cs)  # each exactly once


def test_finish_only_by_the_holder(store_url):
    a, b = Ledger(store_url), Ledger(store_url)
    [k] = a.claim("pb", claims(1), now=NOW)
    assert b.finish("pb", [Outcome(k, "sent")], now=NOW) == 0
    assert a.finish("pb", [Outcome(k, "sent", "", {"msgid": "m1"})], now=NOW) == 1
    [row] = a.rows()
    assert row["status"] == "sent" and row["response"] == {"msgid": "m1"}
    assert row["scheduled_utc"] == NOW and row["finished_at"] == NOW
    assert a.finish("pb", [Outcome(k, "failed")], now=NOW) == 0  # final is final


def test_finish_runs_its_companion_in_the_same_transaction(store_url):
    """``also`` sees the recorded keys in the finish's transaction: when it fails, the
    results are not recorded either (the event side drops outbox entries there)."""
    led = Ledger(store_url)
    ks = led.claim("pb", claims(3), now=NOW)
    seen: list[list[str]] = []

    def broken(conn, keys):
        seen.append(keys)
        raise RuntimeError("companion failed")

    with pytest.raises(RuntimeError):
        led.finish("pb", [Outcome(k, "sent") for k in ks], now=NOW, also=broken)
    assert seen == [ks] and led.counts() == {"claimed": 3}
    assert led.finish("pb", [Outcome(k, "sent") for k in ks], now=NOW,
                      also=lambda conn, keys: seen.append(keys)) == 3
    assert seen[-1] == ks and led.counts() == {"sent": 3}
    led.close()


def test_record_skips_without_overwriting(store_url):
    led = Ledger(store_url)
    cs = claims(3)
    led.claim("pb", cs[:1], now=NOW)
    assert led.record("pb", cs, "skipped", "missed while down", now=NOW) == 2
    assert led.counts() == {"claimed": 1, "skipped": 2}
    skipped = led.rows(statuses=["skipped"])
    assert all(r["reason"] == "missed while down" for r in skipped)


def test_recover_dead_process_and_expired_lease(store_url):
    # a claim made by a process that has exited (same host) becomes uncertain at once
    code = ("import sys; from datetime import datetime, UTC; "
            "from sopctl.run.ledger import Ledger, Claim; "
            f"L = Ledger({store_url!r}); "
            "L.claim('pb', [Claim('dead/1', 'g', 's', 0, datetime.now(UTC))], "
            "now=datetime.now(UTC), lease_s=3600); "
            "L.start_sending('pb', ['dead/1'], now=datetime.now(UTC), lease_s=3600)")
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)
    me = Ledger(store_url)
    me.claim("pb", claims(1), now=NOW, lease_s=60)
    other = Ledger(store_url, runner_id="otherhost:1:abcd")
    other.claim("pb", claims(1, "x"), now=NOW, lease_s=60)
    assert other.start_sending("pb", ["x00000/morning/2026-11-24/0"], now=NOW, lease_s=60)
    assert me.recover(now=NOW + timedelta(seconds=30)) == 1  # only the dead process's
    st = {r["key"]: r["status"] for r in me.rows()}
    assert st["dead/1"] == "uncertain"
    assert me.recover(now=NOW + timedelta(seconds=61)) == 1  # the other host's lease ran out
    st = {r["key"]: r["status"] for r in me.rows()}
    assert st["x00000/morning/2026-11-24/0"] == "uncertain"
    assert st["g00000/morning/2026-11-24/0"] == "claimed"  # mine, still in flight
    assert me.reclaim_uncertain("pb", ["dead/1"], now=NOW) == ["dead/1"]
    assert me.reclaim_uncertain("pb", ["dead/1"], now=NOW) == []
    [row] = me.rows(statuses=["claimed"], group="g")
    assert row["attempts"] == 1 and row["claimed_by"] == me.runner_id


def test_ticks(store_url):
    a, b = Ledger(store_url), Ledger(store_url)
    assert a.last_tick("pb") is None
    a.set_tick("pb", NOW)
    a.set_tick("pb", NOW + timedelta(minutes=1))
    b.set_tick("pb", NOW - timedelta(minutes=5))
    assert a.last_tick("pb") == NOW + timedelta(minutes=1)
    assert b.last_tick("other") is None


def test_schema_applied_concurrently(store_url, tmp_path):
    """Runners started at once on a new ledger: every one opens it, one version row."""
    import sqlalchemy as sa

    from sopctl.events.store import MemberStore

    urls = [store_url] if not store_url.startswith("sqlite") else [
        f"sqlite:///{tmp_path / f'race{i}.db'}" for i in range(24)]
    for url in urls:

        def start(url: str = url) -> None:
            led = Ledger(url)
            MemberStore(led, "pb")
            led.close()

        errors = at_once(start, 8)
        assert not errors, errors
        led = Ledger(url)
        with led.engine.connect() as c:
            assert c.execute(sa.text("SELECT count(*) FROM sopctl_schema_version")).scalar() == 1
        led.close()


def test_sqlite_uses_wal(tmp_path):
    led = Ledger(f"sqlite:///{tmp_path / 'l.db'}")
    import sqlalchemy as sa

    with led.engine.connect() as c:
        assert c.execute(sa.text("PRAGMA journal_mode")).scalar() == "wal"
        assert c.execute(sa.text("PRAGMA busy_timeout")).scalar() == 30000


def test_take_over_expired_claims_one_winner(store_url):
    """A ``claimed`` row (never sent) whose lease ran out goes to exactly one other runner;
    a ``sending`` row is never taken over, it becomes uncertain."""
    dead = Ledger(store_url, runner_id="gone:1:dead")
    cs = claims(500)
    dead.claim("pb", cs, now=NOW, lease_s=30)
    dead.start_sending("pb", [c.key for c in cs[:10]], now=NOW, lease_s=30)
    keys = [c.key for c in cs]
    takers = [Ledger(store_url) for _ in range(3)]
    assert takers[0].take_over("pb", keys, now=NOW + timedelta(seconds=29)) == []  # alive
    won: list[list[str]] = [[] for _ in takers]

    def go(i: int) -> None:
        won[i] = takers[i].take_over("pb", keys, now=NOW + timedelta(seconds=31), lease_s=30)

    ts = [threading.Thread(target=go, args=(i,)) for i in range(3)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    flat = sorted(k for w in won for k in w)
    assert flat == sorted(keys[10:])  # each claimed row once, no sending row
    # the dead runner can no longer flip or finish what was taken from it
    assert dead.start_sending("pb", keys[10:], now=NOW) == []
    assert dead.finish("pb", [Outcome(keys[20], "sent")], now=NOW) == 0
    assert takers[0].recover(now=NOW + timedelta(seconds=31)) == 10
    assert takers[0].counts() == {"uncertain": 10, "claimed": 490}
    # the holder's heartbeat keeps its rows: a renewed lease is not expired
    for t in takers:
        t.renew(now=NOW + timedelta(seconds=50), lease_s=30)
    assert Ledger(store_url).take_over("pb", keys, now=NOW + timedelta(seconds=70)) == []
    assert len(Ledger(store_url).take_over("pb", keys, now=NOW + timedelta(seconds=81))) == 490


def test_sharded_ticks_are_kept_per_shard(store_url):
    a = Ledger(store_url, tick_id="shard 1/2")
    b = Ledger(store_url, tick_id="shard 2/2")
    plain = Ledger(store_url)
    a.set_tick("pb", NOW)
    assert b.last_tick("pb") is None and plain.last_tick("pb") is None
    b.set_tick("pb", NOW - timedelta(minutes=1))
    b.set_tick("pb", NOW - timedelta(minutes=2))  # never goes back on PostgreSQL
    assert a.last_tick("pb") == NOW
    assert b.last_tick("pb") in (NOW - timedelta(minutes=1), NOW - timedelta(minutes=2))


def test_last_tick_never_moves_backwards(store_url):
    led = Ledger(store_url, tick_id="host:1:a")
    later, earlier = NOW + timedelta(minutes=5), NOW
    led.set_tick("pb", later)
    led.set_tick("pb", earlier)  # a slower process finishing an older tick
    assert led.last_tick("pb") == later
    led.set_tick("pb", later + timedelta(minutes=1))
    assert led.last_tick("pb") == later + timedelta(minutes=1)


def test_a_holder_in_another_pid_namespace_is_judged_by_its_lease_only(store_url):
    """Two containers may share a hostname: a pid that does not exist here may be alive
    there, so only a holder of this host *and* pid namespace is judged by its pid."""
    import socket

    from sopctl.run.ledger import host_key, make_runner_id

    assert make_runner_id().startswith(host_key() + ":")
    p = subprocess.Popen([sys.executable, "-c", "pass"])
    p.wait()  # a pid that no longer exists here
    host = socket.gethostname()
    for i, holder in enumerate((f"{host}/1:{p.pid}:twin", f"{host}:{p.pid}:twin")):
        twin = Ledger(store_url, runner_id=holder)
        twin.claim("pb", claims(1, f"t{i}"), now=NOW, lease_s=60)
        assert twin.start_sending("pb", [f"t{i}00000/morning/2026-11-24/0"], now=NOW,
                                  lease_s=60)
    me = Ledger(store_url)
    assert me.recover(now=NOW + timedelta(seconds=30)) == 0  # alive for all we know
    assert me.recover(now=NOW + timedelta(seconds=61)) == 2  # their leases ran out


def test_sqlite_flips_rows_through_their_keys_not_every_claimed_row(tmp_path):
    """With no statistics, SQLite's planner took the status index for a flip of eight keys
    or more and read every claimed row of the ledger; the flip must search by key."""
    import sqlite3

    import sqlalchemy as sa

    led = Ledger(f"sqlite:///{tmp_path / 'l.db'}")
    keys = led.claim("pb", claims(200), now=NOW)
    flips: list[tuple[str, tuple]] = []

    @sa.event.listens_for(led.engine, "before_cursor_execute")
    def grab(conn, cursor, statement, parameters, context, executemany):
        if statement.lstrip().startswith("UPDATE"):
            flips.append((statement, parameters))

    assert len(led.start_sending("pb", keys[:64], now=NOW)) == 64
    led.close()
    [(sql, params)] = flips
    with contextlib.closing(sqlite3.connect(tmp_path / "l.db")) as raw:
        plan = [row[3] for row in raw.execute("EXPLAIN QUERY PLAN " + sql, params)]
    assert plan == ["SEARCH sopctl_deliveries USING INDEX "
                    "sqlite_autoindex_sopctl_deliveries_1 (playbook=? AND key=?)"], plan
