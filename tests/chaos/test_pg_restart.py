"""PostgreSQL goes away mid-burst — a real restart of the server, then every connection of
the ledger's database terminated — and the runners wait, resume, and send nothing twice.
A message only leaves after its claim (and its flip to ``sending``) committed, so everything
the receiver got is in the ledger. The server is a throwaway cluster of this test's own
(``initdb`` + ``pg_ctl`` on a free port), never a server others use."""

from __future__ import annotations

import os
import time
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from .harness import Fleet, assert_delivered, verdict, wait_for, wait_settled, write_playbook
from .sink import Sink

pytestmark = pytest.mark.postgres

GROUPS = int(os.environ.get("SOPCTL_CHAOS_PG_GROUPS", "3000"))
SH = ZoneInfo("Asia/Shanghai")
SETTLE_S = 120.0  # the second fault -> every row final (asserted): the rest of the burst


def sql(url: str, query: str) -> list[tuple]:
    import psycopg

    with psycopg.connect(url, autocommit=True, connect_timeout=5) as c:
        return c.execute(query).fetchall()


def terminate_connections(url: str) -> int:
    """Cut every other connection to the ledger's database; returns how many were cut."""
    return len(sql(url, "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                        "WHERE datname = current_database() AND pid <> pg_backend_pid()"))


def test_postgres_restart_and_terminated_connections(tmp_path, own_pg):
    store = own_pg.url
    with Sink(tmp_path / "received.log", delay=0.2) as sink:
        pb = write_playbook(tmp_path / "pb.yaml", groups=GROUPS, url=sink.url,
                            slots=[("07:30", "30m")])
        fleet = Fleet(tmp_path, pb, store, datetime(2026, 11, 24, 7, 29, 52, tzinfo=SH),
                      extra=("--lease", "3"))
        try:
            for i in range(3):
                fleet.launch(i)
            assert wait_for(lambda: sink.count.value >= GROUPS // 6, 90, 0.02), fleet.logs()
            up_since = sql(store, "SELECT pg_postmaster_start_time()")
            away = own_pg.restart()
            restarted = sql(store, "SELECT pg_postmaster_start_time()") != up_since
            at_restart = sink.count.value
            later = min(GROUPS * 2 // 3, at_restart + (GROUPS - at_restart) // 3)
            assert wait_for(lambda: sink.count.value >= later, 90, 0.02), fleet.logs()
            cut = terminate_connections(store)
            t_fault = time.monotonic()
            settled = wait_settled(store, GROUPS, SETTLE_S)
            settle = time.monotonic() - t_fault
            codes = fleet.stop_all()
        finally:
            fleet.stop_all()
        time.sleep(0.3)
        v = verdict(store, sink.received(), GROUPS)
    logs = fleet.logs(tail=10**8)
    assert at_restart < GROUPS, "the burst was over before the restart"
    assert settled is not None, f"{v.line()}\n{fleet.logs()}"
    assert codes == [0, 0, 0], fleet.logs()
    assert restarted and cut > 0  # both faults happened (a runner may not notice either:
    # its pool checks a connection before use and reconnects)
    # no runner died: a result written late is still the true one, nothing is uncertain
    assert_delivered(v, uncertain_max=0)
    assert v.by_status == {"sent": GROUPS}, v.line()
    print(f"\nPostgreSQL restart ({away:.1f} s away) + {cut} connections terminated: {GROUPS} "
          f"occurrences, 3 runners; {v.line()}; every row final {settle:.1f} s after the "
          f"second fault; ledger errors logged: {logs.count('ledger-error')}")
