"""SIGKILL while messages wait for a rate-limit window. A robot takes N posts a minute; more
than N groups are due at 07:30; the runner is killed once the first N have arrived, while the
others wait for the next window. Those were never written to the platform, so they must be
``claimed`` (not ``sending``) at the kill, taken over by the restart and sent once — never
``uncertain``. From the receiving server's own log against the ledger."""

from __future__ import annotations

import time
from collections import Counter
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from sopctl.run.runner import RunOptions

from .harness import (
    Fleet,
    assert_delivered,
    ledger_rows,
    status_counts,
    verdict,
    wait_for,
    wait_settled,
    write_playbook,
)
from .sink import Sink

SH = ZoneInfo("Asia/Shanghai")
SETTLE_S = 60.0  # the restart -> every row final (asserted)


@pytest.fixture(params=["postgresql", "sqlite"])
def store(request, tmp_path):
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'ledger.db'}"
    return request.getfixturevalue("pg_db")


# (groups, posts a minute): the 40 on a 20/min robot, and 300 behind one robot whose
# first window is 150 (the restart's fresh window then takes the other 150 at once)
@pytest.mark.parametrize(("groups", "per_minute"), [(40, 20), (300, 150)],
                         ids=["40-on-20-a-minute", "300-on-150-a-minute"])
def test_sigkill_during_a_rate_limit_wait(tmp_path, store, groups, per_minute):
    with Sink(tmp_path / "received.log") as sink:
        pb = write_playbook(tmp_path / "pb.yaml", groups=groups, url=sink.url,
                            slots=[("07:30", "30m")],
                            out_extra=f", rate_per_minute: {per_minute}")
        # each process its own rate limiter, as before host-wide limits: the shared one
        # makes the restart wait out the robot's minute (tests/chaos/test_shared_ratelimit.py)
        fleet = Fleet(tmp_path, pb, store, datetime(2026, 11, 24, 7, 29, 58, tzinfo=SH),
                      extra=("--lease", "3"), env={"SOPCTL_RATE_STATE": "off"})
        try:
            fleet.launch(0)
            assert wait_for(lambda: sink.count.value >= per_minute, 90, 0.02), fleet.logs()
            time.sleep(1.0)  # the rest wait for the robot's next window, a minute away
            fleet.kill9(0)
            at_kill = Counter(r["status"] for r in ledger_rows(store))
            arrived_before = {k for _, k in sink.received()}
            fleet.launch(0)
            t_restart = time.monotonic()
            settled = wait_settled(store, groups, SETTLE_S)
            settle = time.monotonic() - t_restart
            codes = fleet.stop_all()
        finally:
            fleet.stop_all()
        time.sleep(0.3)
        v = verdict(store, sink.received(), groups)
    uncertain_keys = {r["key"] for r in ledger_rows(store) if r["status"] == "uncertain"}
    assert len(arrived_before) == per_minute  # the robot's window held before the kill
    # at the kill: the waiting ones were only claimed; sending only what had been written
    assert at_kill["claimed"] == groups - per_minute, at_kill
    assert at_kill["sending"] + at_kill["sent"] == per_minute, at_kill
    assert settled is not None, (v.line(), status_counts(store), fleet.logs())
    assert codes == [0], fleet.logs()
    assert_delivered(v, uncertain_max=RunOptions().uncertain_bound)
    assert uncertain_keys <= arrived_before  # uncertain: only requests that had been written
    assert v.by_status["uncertain"] == at_kill["sending"], (at_kill, v.line())
    assert v.by_status["sent"] + v.by_status["uncertain"] == groups
    print(f"\nSIGKILL during a rate-limit wait ({'sqlite' if 'sqlite' in store else 'pg'}, "
          f"{groups} groups, {per_minute}/min): at the kill {dict(at_kill)}; {v.line()}; "
          f"every row final {settle:.1f} s after the restart")
