"""Normal stops in a fleet: SIGTERM of one runner of three in the middle of a burst (with and
without a restart), the one whose platform answers slowly, so it holds claimed rows when it
stops; and a rolling restart of all three during a burst (every deploy). A stop hands back
what it has not begun; the others (or the restarted runner) take it over whatever their last
tick says. From the receiving server's own log against the ledger: nothing lost, nothing
received twice, nothing uncertain (a stop is not a crash), every row final within
``SETTLE_S`` of the last stop."""

from __future__ import annotations

import os
import time
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from .harness import (
    Fleet,
    assert_delivered,
    held_by,
    verdict,
    wait_for,
    wait_settled,
    write_playbook,
)
from .sink import Sink

SH = ZoneInfo("Asia/Shanghai")
# the last stop -> every row final (asserted): the rest of the burst, and survivors notice
# handed-back rows within min(5 s, lease/3) once idle
SETTLE_S = 120.0
GROUPS = {"postgresql": int(os.environ.get("SOPCTL_CHAOS_STOP_GROUPS", "2000")), "sqlite": 1600}
ROLLING = {"postgresql": 3000, "sqlite": 2400}


@pytest.fixture(params=["postgresql", "sqlite"])
def store(request, tmp_path):
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'ledger.db'}"
    return request.getfixturevalue("pg_db")


def backend(store: str) -> str:
    return "sqlite" if store.startswith("sqlite") else "postgresql"


@pytest.mark.parametrize("restart", [False, True], ids=["no-restart", "restart"])
def test_sigterm_one_of_three_mid_burst_with_a_slow_platform(tmp_path, store, restart):
    groups = GROUPS[backend(store)]
    with Sink(tmp_path / "received.log", delay=0.02, slow_delay=2.0) as sink:
        pb = write_playbook(tmp_path / "pb.yaml", groups=groups, url="${HOOK_URL}",
                            slots=[("07:30", "30m")])
        fleet = Fleet(tmp_path, pb, store, datetime(2026, 11, 24, 7, 29, 57, tzinfo=SH),
                      extra=("--lease", "3"))
        slow, fast = {"HOOK_URL": sink.slow_url}, {"HOOK_URL": sink.url}
        try:
            fleet.launch(0, env=slow)  # this runner's platform answers in two seconds
            pid = fleet.procs[0].pid
            # the others start once it has claimed its first rows: each runner's clock starts
            # when its process reads it, so on a loaded machine a slow start-up could leave
            # the burst to the fast two before this one claims anything
            assert wait_for(lambda: held_by(store, pid)["claimed"] >= 50, 90, 0.1), \
                fleet.logs()
            fleet.launch(1, env=fast)
            fleet.launch(2, env=fast)
            # SIGTERM once the burst is under way and the slow runner holds rows it has not
            # begun (claimed, waiting for one of its slots): those it must hand back
            assert wait_for(lambda: sink.count.value >= groups // 10
                            and held_by(store, pid)["claimed"] >= 50, 90, 0.1), fleet.logs()
            code = fleet.term(0)
            t_stop = time.monotonic()
            if restart:
                fleet.launch(0, env=slow)
            settled = wait_settled(store, groups, SETTLE_S)
            settle = time.monotonic() - t_stop
            codes = fleet.stop_all()
        finally:
            fleet.stop_all()
        time.sleep(0.3)
        v = verdict(store, sink.received(), groups)
    logs = fleet.logs(tail=10**7)
    assert code == 0 and codes == [0, 0, 0], fleet.logs()
    assert '"released"' in logs  # the stop did hand rows back (else the test proves nothing)
    assert settled is not None, (v.line(), fleet.logs())
    assert_delivered(v, uncertain_max=0)
    assert v.by_status == {"sent": groups}, v.line()
    print(f"\nSIGTERM 1 of 3 ({backend(store)}, {'restarted' if restart else 'not restarted'}):"
          f" {groups} groups; {v.line()}; every row final {settle:.1f} s after the stop")


def test_rolling_restart_of_all_three_during_a_burst(tmp_path, store):
    groups = ROLLING[backend(store)]
    with Sink(tmp_path / "received.log", slow_delay=4.0) as sink:
        pb = write_playbook(tmp_path / "pb.yaml", groups=groups, url=sink.slow_url,
                            slots=[("07:30", "30m")])
        fleet = Fleet(tmp_path, pb, store, datetime(2026, 11, 24, 7, 29, 57, tzinfo=SH),
                      extra=("--lease", "3"))
        codes = []
        try:
            for i in range(3):
                fleet.launch(i)
            assert wait_for(lambda: sink.count.value >= groups // 6, 90, 0.02), fleet.logs()
            at = []
            for i in range(3):  # one host after the other, as a deploy does
                pid = fleet.procs[i].pid  # stopped while it holds rows (sending or waiting)
                assert wait_for(lambda pid=pid: sum(held_by(store, pid).values()) > 0, 60,
                                0.1), (f"runner {i} holds nothing: the burst is over",
                                       fleet.logs())
                codes.append(fleet.term(i))
                at.append(sink.count.value)
                fleet.launch(i)
                assert wait_for(lambda i=i: fleet.started(i), 60, 0.05)
            t_last = time.monotonic()
            settled = wait_settled(store, groups, SETTLE_S)
            settle = time.monotonic() - t_last
            codes += fleet.stop_all()
        finally:
            fleet.stop_all()
        time.sleep(0.3)
        v = verdict(store, sink.received(), groups)
    assert codes == [0] * 6, fleet.logs()
    assert at[-1] < groups, f"the burst was over before the last restart: {at}"
    assert '"released"' in fleet.logs(tail=10**8)  # rows were handed back on the way
    assert settled is not None, (v.line(), fleet.logs())
    assert_delivered(v, uncertain_max=0)
    assert v.by_status == {"sent": groups}, v.line()
    print(f"\nrolling restart ({backend(store)}): {groups} groups, received {at} at each "
          f"stop; {v.line()}; every row final {settle:.1f} s after the last restart")
