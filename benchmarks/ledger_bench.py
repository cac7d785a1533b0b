"""The sender's two ledger transactions per batch, on small batches: the flip to ``sending``
(``Ledger.start_sending``) and the results (``Ledger.finish``), as `serve` runs them for the
few reactions a commit hands over at a time.

Each is timed three ways in the same run, on rows of one fresh store (the claimed rows of
every size stay in it, as a burst's do): the ledger's method; the same UPDATE built per call
(as the methods did before their statements were built once); and the bare driver running
the same SQL text, the floor. Prints CPU microseconds per transaction and the ratio to the
floor.

    python benchmarks/ledger_bench.py [--store URL] [--sizes 1 2 8 64] [--txns 400]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import sqlalchemy as sa

from sopctl.run.ledger import HELD, Claim, Ledger, Outcome, deliveries


def _claimed(led: Ledger, pb: str, n: int, now: datetime) -> list[str]:
    return led.claim(pb, [Claim(f"{pb}/{i}", "g", "s", 0, now, "h", "c") for i in range(n)],
                     now=now)


def _built_per_call(led: Ledger) -> tuple[Callable, Callable]:
    """start_sending and finish with the statement built inside each call."""
    c = deliveries.c

    def start(pb: str, keys: list[str], now: datetime) -> None:
        with led.engine.begin() as conn:
            conn.execute(deliveries.update().where(
                c.playbook == pb, c.key.in_(keys),
                c.status.concat(sa.literal_column("''")) == "claimed",
                c.claimed_by == led.runner_id).values(
                status="sending", lease_until=now + timedelta(seconds=60))
                .returning(c.key)).scalars().all()

    def finish(pb: str, keys: list[str], now: datetime) -> None:
        stmt = (deliveries.update()
                .where(c.playbook == sa.bindparam("b_pb"), c.key == sa.bindparam("b_key"),
                       sa.or_(*(c.status == x for x in (*HELD, "uncertain"))),
                       c.claimed_by == led.runner_id)
                .values(status=sa.bindparam("b_status"), finished_at=sa.bindparam("b_now"),
                        lease_until=None))
        with led.engine.begin() as conn:
            conn.execute(stmt, [{"b_pb": pb, "b_key": k, "b_status": "sent", "b_now": now}
                                for k in keys])
    return start, finish


def _driver(led: Ledger) -> tuple[Callable, Callable]:
    """The floor: the driver's own cursor, SQL text, one commit."""
    ph = "?" if led.dialect == "sqlite" else "%s"
    when = (lambda t: t.replace(tzinfo=None).isoformat(" ")) if led.dialect == "sqlite" \
        else (lambda t: t)

    def run(sql: str, params: object, many: bool = False) -> None:
        raw = led.engine.raw_connection()
        try:
            cur = raw.cursor()
            (cur.executemany if many else cur.execute)(sql, params)
            if not many:
                cur.fetchall()
            raw.commit()
        finally:
            raw.close()

    def start(pb: str, keys: list[str], now: datetime) -> None:
        run(f"UPDATE sopctl_deliveries SET status = 'sending', lease_until = {ph} WHERE "
            f"playbook = {ph} AND key IN ({', '.join([ph] * len(keys))}) AND status || '' "
            f"= 'claimed' AND claimed_by = {ph} RETURNING key",
            (when(now + timedelta(seconds=60)), pb, *keys, led.runner_id))

    def finish(pb: str, keys: list[str], now: datetime) -> None:
        run(f"UPDATE sopctl_deliveries SET status = 'sent', finished_at = {ph}, lease_until "
            f"= NULL WHERE playbook = {ph} AND key = {ph} AND status IN ('claimed', "
            f"'sending', 'uncertain') AND claimed_by = {ph}",
            [(when(now), pb, k, led.runner_id) for k in keys], many=True)
    return start, finish


def _ledger(led: Ledger) -> tuple[Callable, Callable]:
    def start(pb: str, keys: list[str], now: datetime) -> None:
        led.start_sending(pb, keys, now=now)

    def finish(pb: str, keys: list[str], now: datetime) -> None:
        led.finish(pb, [Outcome(k, "sent") for k in keys], now=now)
    return start, finish


def measure(led: Ledger, how: tuple[Callable, Callable], size: int, txns: int
            ) -> tuple[float, float]:
    """CPU µs per flip and per result transaction of ``size`` rows."""
    now = datetime.now(UTC)
    pb = f"ledger-bench-{time.time_ns()}"
    keys = _claimed(led, pb, size * txns, now)
    start, finish = how
    out = []
    for fn in (start, finish):
        c = time.process_time()
        for i in range(0, len(keys), size):
            fn(pb, keys[i:i + size], now)
        out.append((time.process_time() - c) / txns * 1e6)
    return out[0], out[1]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--store", default=None, help="database URL (default: a fresh SQLite)")
    ap.add_argument("--sizes", type=int, nargs="+", default=[1, 2, 8, 64])
    ap.add_argument("--txns", type=int, default=400)
    a = ap.parse_args()
    led = Ledger(a.store or f"sqlite:///{tempfile.mkdtemp()}/ledger.db")
    ways = {"ledger": _ledger(led), "built per call": _built_per_call(led),
            "bare driver": _driver(led)}
    print(f"{led.dialect}; CPU us per transaction (flip / results), {a.txns} transactions each")
    for size in a.sizes:
        got = {name: measure(led, how, size, a.txns) for name, how in ways.items()}
        floor = got["bare driver"]
        print(f"{size:3d} rows: " + "   ".join(
            f"{name} {f:6.0f} / {r:6.0f} ({f / floor[0]:.1f}x / {r / floor[1]:.1f}x)"
            for name, (f, r) in got.items()))
    led.close()


if __name__ == "__main__":
    main()
