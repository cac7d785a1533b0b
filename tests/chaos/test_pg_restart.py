"""PostgreSQL goes away mid-burst — a real restart of the cluster, then every connection of
the ledger's database terminated — and the runners wait, resume, and send nothing twice.
A message only leaves after its claim (and its flip to ``sending``) committed, so everything
the receiver got is in the ledger."""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from collections import Counter
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from sopctl.run.ledger import FINAL

from .harness import Fleet, admin, ledger_rows, wait_for, write_playbook
from .sink import Sink
from .test_kill9 import status_counts

pytestmark = pytest.mark.postgres

GROUPS = int(os.environ.get("SOPCTL_CHAOS_PG_GROUPS", "3000"))
SH = ZoneInfo("Asia/Shanghai")


def _cluster() -> list[str] | None:
    if not shutil.which("pg_ctlcluster") or not Path("/etc/postgresql").is_dir():
        return None
    versions = sorted(os.listdir("/etc/postgresql"))
    return ["pg_ctlcluster", "--skip-systemctl-redirect", versions[-1], "main"] if versions \
        else None


def _pg_up() -> bool:
    return subprocess.run(["pg_isready", "-h", "127.0.0.1", "-p", "5432", "-q"],
                          check=False).returncode == 0


def restart_postgres() -> float:
    """Restart the cluster (fast mode); returns how long PostgreSQL was away."""
    cmd = _cluster()
    t = time.monotonic()
    subprocess.run([*cmd, "restart", "-m", "fast"], check=True, timeout=120,
                   capture_output=True)
    assert wait_for(_pg_up, 60, 0.2)
    return time.monotonic() - t


def ensure_postgres_up() -> None:
    cmd = _cluster()
    if cmd and not _pg_up():
        subprocess.run([*cmd, "start"], check=False, timeout=120, capture_output=True)
        wait_for(_pg_up, 60, 0.2)


def test_postgres_restart_and_terminated_connections(tmp_path, pg_db):
    can_restart = _cluster() is not None and os.geteuid() == 0
    if not can_restart:
        print("\npg_ctlcluster not usable here: connections are terminated instead")
    dbname = pg_db.rsplit("/", 1)[1]
    try:
        with Sink(tmp_path / "received.log", delay=0.2) as sink:
            pb = write_playbook(tmp_path / "pb.yaml", groups=GROUPS, url=sink.url,
                                slots=[("07:30", "30m")])
            fleet = Fleet(tmp_path, pb, pg_db, datetime(2026, 11, 24, 7, 29, 52, tzinfo=SH),
                          extra=("--lease", "3"))
            try:
                for i in range(3):
                    fleet.launch(i)
                assert wait_for(lambda: sink.count.value >= GROUPS // 6, 90, 0.02), fleet.logs()
                away = 0.0
                if can_restart:
                    away = restart_postgres()
                else:
                    admin("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                          f"WHERE datname = '{dbname}' AND pid <> pg_backend_pid()")
                at_restart = sink.count.value
                later = min(GROUPS * 2 // 3, at_restart + (GROUPS - at_restart) // 3)
                assert wait_for(lambda: sink.count.value >= later, 90, 0.02), fleet.logs()
                admin("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                      f"WHERE datname = '{dbname}' AND pid <> pg_backend_pid()")
                settled = wait_for(lambda: sum(status_counts(pg_db).values()) == GROUPS
                                   and not set(status_counts(pg_db)) - set(FINAL), 150, 0.5)
                codes = fleet.stop_all()
            finally:
                fleet.stop_all()
            time.sleep(0.3)
            received = sink.received()
    finally:
        ensure_postgres_up()
    rows = ledger_rows(pg_db)
    by_status = Counter(r["status"] for r in rows)
    logs = fleet.logs(tail=10**8)
    assert settled, f"{by_status}\n{fleet.logs()}"
    assert codes == [0, 0, 0], fleet.logs()
    assert "ledger-error" in logs  # they did notice
    status = {r["key"]: r["status"] for r in rows}
    got = Counter(k for _, k in received)
    assert not {k for k, n in got.items() if n > 1}  # nothing twice
    assert all(status.get(k) in ("sent", "uncertain") for k in got)  # claimed before sent
    assert all(got[k] == 1 for k, s in status.items() if s == "sent")
    assert by_status["failed"] == 0 and by_status["skipped"] == 0, by_status
    print(f"\nPostgreSQL restart ({away:.1f} s away) + terminated connections: {GROUPS} "
          f"occurrences, 3 runners; ledger {dict(by_status)}; received {len(got)}, twice 0")
