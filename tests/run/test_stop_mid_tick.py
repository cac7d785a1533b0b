"""A stop (SIGTERM) in the middle of a large tick must not lose the occurrences it gave back."""

from __future__ import annotations

import asyncio

from sopctl.run.clock import FakeClock
from sopctl.run.ledger import Ledger
from sopctl.run.metrics import Metrics
from sopctl.run.reload import check_playbook
from sopctl.run.runner import Book, Runner, RunOptions

from .conftest import RecordingChannel, sh, write_playbook


class StoppingChannel(RecordingChannel):
    """Asks its runner to stop as soon as the first message goes out."""

    runner: Runner | None = None

    async def send(self, msg, *, deadline=None):
        if self.runner is not None:
            self.runner.stop()
        return await super().send(msg, deadline=deadline)


def test_stop_mid_tick_leaves_the_rest_to_the_next_run(tmp_path, store_url):
    pb = write_playbook(tmp_path / "pb.yaml", groups=40)
    checked = check_playbook(str(pb))
    clock = FakeClock(sh(2026, 11, 24, 7, 30, 5))
    ch = StoppingChannel()
    r1 = Runner([Book(checked)], Ledger(store_url), clock,
                RunOptions(claim_chunk=5, flip_batch=5, concurrency=1),
                channels={"out": ch}, metrics=Metrics())
    ch.runner = r1
    asyncio.run(r1.run_once())
    first = {m.key for m in ch.sent}
    assert 0 < len(first) < 40  # stopped part-way: the rest was released or never claimed

    clock.advance(60)  # restarted a minute later, well inside the 30 min grace
    ch2 = RecordingChannel()
    r2 = Runner([Book(check_playbook(str(pb)))], Ledger(store_url), clock, RunOptions(),
                channels={"out": ch2}, metrics=Metrics())
    asyncio.run(r2.run_once())
    second = {m.key for m in ch2.sent}
    assert not first & second
    assert len(first | second) == 40
    assert r2.ledger.counts() == {"sent": 40}
