"""The commit process's own cost: one group commit of N events, in-process, no HTTP.

What `sopctl serve`'s child does per transaction (`EventEngine.commit_batch` on a held
connection: processed ids, members, reactions, ledger claims, outbox), on the events the
HTTP benchmark sends, for several batch sizes. Prints wall and CPU microseconds per event;
a batch of 1 shows the fixed cost of a transaction.

    python benchmarks/commit_bench.py [--events 6000] [--store URL] [--sizes 1 4 16 64]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from events_bench import PLAYBOOK, event

from sopctl.events.engine import EventEngine
from sopctl.events.types import event_from_dict
from sopctl.playbook.loader import load_playbook
from sopctl.run.ledger import Ledger


def measure(store: str, size: int, n: int, pb: object) -> tuple[float, float]:
    ledger = Ledger(store)
    engine = EventEngine(pb, ledger, name=f"commit-bench-{time.time_ns()}",
                         hold_connection=True)
    events = [event_from_dict(event(i, f"c{size}")) for i in range(n)]
    try:
        t, c = time.perf_counter(), time.process_time()
        for i in range(0, n, size):
            engine.commit_batch(events[i:i + size])
        return ((time.perf_counter() - t) / n * 1e6, (time.process_time() - c) / n * 1e6)
    finally:
        engine.close()
        ledger.close()


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--events", type=int, default=6000)
    ap.add_argument("--sizes", type=int, nargs="+", default=[1, 4, 16, 64])
    ap.add_argument("--store", default=None, help="database URL (default: a fresh SQLite)")
    a = ap.parse_args()
    pb = load_playbook(str(PLAYBOOK)).playbook
    for size in a.sizes:
        store = a.store or f"sqlite:///{Path(tempfile.mkdtemp()) / 'ledger.db'}"
        wall, cpu = measure(store, size, a.events, pb)
        print(f"batches of {size:>3}: {wall:7.1f} us/event wall, {cpu:7.1f} us/event CPU "
              f"({wall * size / 1000:.2f} ms a transaction)", flush=True)


if __name__ == "__main__":
    main()
