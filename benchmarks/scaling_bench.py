"""Several `sopctl run` processes on one PostgreSQL ledger deliver a 10,000-group burst to a
loopback webhook receiver (its own process, answering at once): throughput and claim latency
(p50/p99 of the claim batches, 200 occurrences each) for 1, 2, 3 and 4 runners, compared with
one runner measured in the same run.

    python benchmarks/scaling_bench.py [--groups 10000] [--runners 1,2,3,4] [--delay 0]

Needs PostgreSQL (SOPCTL_TEST_PG, default postgresql://postgres@127.0.0.1:5432/test); each
configuration gets a fresh database, dropped afterwards.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
import uuid
from collections import Counter
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.chaos.harness import PG_URL, Fleet, admin, wait_for, write_playbook
from tests.chaos.sink import Sink

SH = ZoneInfo("Asia/Shanghai")
LEAD_S = 20.0  # runners load the playbook and plan before the slot comes due


def pct(xs: list[float], q: float) -> float:
    if not xs:
        return float("nan")
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(q * len(xs)))]


def final_count(store: str) -> int:
    import psycopg

    with psycopg.connect(store, connect_timeout=5) as c:
        try:
            return c.execute("SELECT count(*) FROM sopctl_deliveries WHERE status NOT IN "
                             "('claimed', 'released', 'sending')").fetchone()[0]
        except psycopg.errors.UndefinedTable:  # no runner has started yet
            return 0


def claim_delays(store: str) -> list[float]:
    """Due -> claim committed, per occurrence, in ms (the runners' clocks agree)."""
    import psycopg

    with psycopg.connect(store, connect_timeout=5) as c:
        return [r[0] for r in c.execute(
            "SELECT extract(epoch FROM claimed_at - scheduled_utc) * 1000 "
            "FROM sopctl_deliveries").fetchall()]


def runner_of(store: str) -> list[str]:
    import psycopg

    with psycopg.connect(store, connect_timeout=5) as c:
        return [r[0] for r in c.execute("SELECT claimed_by FROM sopctl_deliveries")]


def one(n_runners: int, groups: int, delay: float, shard: bool) -> dict:
    name = f"sopctl_bench_{uuid.uuid4().hex[:8]}"
    admin(f'CREATE DATABASE "{name}"')
    store = PG_URL.rsplit("/", 1)[0] + "/" + name
    try:
        with tempfile.TemporaryDirectory() as d, Sink(Path(d) / "rx.log", delay) as sink:
            tmp = Path(d)
            pb = write_playbook(tmp / "pb.yaml", groups=groups, url=sink.url,
                                slots=[("07:30", "30m")], name="扩容压测")
            start = datetime(2026, 11, 24, 7, 30, tzinfo=SH)
            fleet = Fleet(tmp, pb, store, start - _td(LEAD_S), log_format="rich")
            cpu0 = _cpu()
            try:
                for i in range(n_runners):
                    fleet.launch(i, *(("--shard", f"{i + 1}/{n_runners}") if shard else ()))
                ok = wait_for(lambda: final_count(store) >= groups, LEAD_S + 300, 0.25)
            finally:
                fleet.stop_all()
            cpu = _cpu() - cpu0
            time.sleep(0.3)
            rx = sink.received()
            lat = claim_delays(store)
            won = Counter(r for r in runner_of(store))
    finally:
        admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    ts = sorted(t for t, _ in rx)
    keys = Counter(k for _, k in rx)
    # wall clock of the receipts vs monotonic of the launch: align through time.time()
    first, last = ts[0], ts[-1]
    span = last - first
    return {"runners": n_runners, "ok": ok and len(keys) == groups and max(keys.values()) == 1,
            "received": len(rx), "span_s": span, "rate": groups / span if span else 0.0,
            "p50_ms": pct(lat, 0.5), "p99_ms": pct(lat, 0.99),
            "cpu_ms": 1000 * cpu / groups, "share": sorted(won.values(), reverse=True)}


def _cpu() -> float:
    """CPU seconds used by finished child processes (the runners) so far."""
    import resource

    ru = resource.getrusage(resource.RUSAGE_CHILDREN)
    return ru.ru_utime + ru.ru_stime


def _td(s: float):
    from datetime import timedelta

    return timedelta(seconds=s)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--groups", type=int, default=10_000)
    ap.add_argument("--runners", default="1,2,3,4")
    ap.add_argument("--delay", type=float, default=0.0, help="receiver latency, seconds")
    ap.add_argument("--mode", default="shared,sharded",
                    help="shared: every runner covers every group; sharded: --shard I/N")
    a = ap.parse_args()
    print(f"{a.groups} groups due at 07:30, webhook -> loopback receiver (own process, "
          f"{a.delay * 1000:.0f} ms), ledger on PostgreSQL; runners are `sopctl run` processes")
    print(f"{'mode':>8} {'runners':>7} {'msg/s':>8} {'x one':>6} {'burst s':>8} {'claim p50':>10} "
          f"{'claim p99':>10} {'cpu ms':>6}  claimed per runner        consistent")
    for mode in a.mode.split(","):
        base = None
        for n in (int(x) for x in a.runners.split(",")):
            r = one(n, a.groups, a.delay, shard=mode == "sharded" and n > 1)
            base = base or r["rate"]
            print(f"{mode:>8} {n:>7} {r['rate']:>8,.0f} {r['rate'] / base:>5.2f}x "
                  f"{r['span_s']:>8.2f} {r['p50_ms']:>8.0f}ms {r['p99_ms']:>8.0f}ms  "
                  f"{r['cpu_ms']:>6.2f}  {r['share']!s:<25} {r['ok']}")
    print("cpu ms: runner CPU (user+sys, whole process life) per message")
    print("msg/s: groups / (last receipt - first receipt); claim latency: from the instant an "
          "occurrence is due to its claim committed in the ledger (INSERT ... ON CONFLICT DO "
          "NOTHING, 200 a batch)")


if __name__ == "__main__":
    main()
