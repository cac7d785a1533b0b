"""A stop (SIGTERM) in the middle of a large tick must not lose the occurrences it gave back."""

from __future__ import annotations

import asyncio

import pytest

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


def test_a_stop_flips_nothing_more_and_hands_back_the_rest_of_the_chunk(tmp_path, store_url):
    """The stop comes with the first message of a 20-row chunk: what the dispatcher already
    holds goes out, nothing more is flipped to sending, the rest of the chunk is given back."""
    pb = write_playbook(tmp_path / "pb.yaml", groups=40)
    clock = FakeClock(sh(2026, 11, 24, 7, 30, 5))
    ch = StoppingChannel()
    opts = RunOptions(claim_chunk=20, flip_batch=2, concurrency=1)
    r = Runner([Book(check_playbook(str(pb)))], Ledger(store_url), clock, opts,
               channels={"out": ch}, metrics=Metrics())
    ch.runner = r
    asyncio.run(r.run_once())
    # one flipped batch in the dispatcher (concurrency + flip_batch) and the batch after it
    assert 0 < len(ch.sent) <= opts.concurrency + 2 * opts.flip_batch
    assert r.ledger.counts() == {"sent": len(ch.sent)}  # nothing left claimed or sending


class BrokenLedger(Ledger):
    """Recording results fails with something other than the database being away."""

    def finish(self, playbook, outcomes, *, now):
        outcomes = list(outcomes)
        if outcomes:
            raise RuntimeError("results cannot be serialised")
        return 0


def test_a_writer_failure_ends_the_tick_with_its_error_instead_of_hanging(tmp_path):
    pb = write_playbook(tmp_path / "pb.yaml", groups=30)
    clock = FakeClock(sh(2026, 11, 24, 7, 30, 5))
    ch = RecordingChannel()
    r = Runner([Book(check_playbook(str(pb)))], BrokenLedger(f"sqlite:///{tmp_path / 'l.db'}"),
               clock, RunOptions(claim_chunk=10, flip_batch=2, concurrency=2, backlog=3),
               channels={"out": ch}, metrics=Metrics())

    async def main():
        return await asyncio.wait_for(r.run_once(), 20)

    try:
        asyncio.run(main())
    except RuntimeError as exc:
        assert "cannot be serialised" in str(exc)
    else:
        raise AssertionError("the writer's error was swallowed")
    assert len(ch.sent) < 30  # sending stopped once the results could not be written


def test_run_options_refuse_sizes_that_would_stall_a_burst() -> None:
    for name in ("concurrency", "claim_chunk", "flip_batch", "backlog"):
        with pytest.raises(ValueError, match=name):
            RunOptions(**{name: 0})
    assert RunOptions().uncertain_bound == 200 + 2 * 50 - 1 + 100
