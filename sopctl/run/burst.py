"""One tick's delivery: claim, flip to ``sending``, send, record — a chunk at a time.

Nothing is sent without a committed claim and a committed flip. What a crash can leave
``sending`` (hence ``uncertain``) is bounded: requests in the dispatcher, the rest of a
flipped batch, and results the writer thread has not committed yet (sending pauses while
``RunOptions.backlog`` of them wait). A ledger error stops the claiming; messages already in
flight finish, their results are written once the ledger is back, and the error then goes
up to the runner's backoff. Every ledger call runs in a worker thread, so the event loop keeps
carrying the requests in flight while the database commits.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import random
import time
from collections import Counter
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any

from .ledger import Outcome

if TYPE_CHECKING:
    from ..plan.types import Occurrence
    from .delivery import Job
    from .runner import Book, Runner


class Burst:
    """The due and reclaimed occurrences of one playbook in one tick."""

    def __init__(self, runner: Runner, book: Book, due: list[Occurrence],
                 reclaimed: list[Occurrence]):
        self.r, self.book, self.due, self.reclaimed = runner, book, due, reclaimed
        self.name, self.lease = book.name, runner.opts.lease_s
        self.by_key = {o.key: o for o in (*due, *reclaimed)}
        self.counts: Counter = Counter()
        self.pending: list[Outcome] = []  # results not yet handed to the writer
        self.writing = 0  # results handed to the writer thread, not yet committed
        self.failure: list[BaseException] = []
        self.writer_failed = False  # logged once per outage
        self.recorded = asyncio.Event()
        self.flush_now = asyncio.Event()  # wakes the writer before its 50 ms tick
        self.done = asyncio.Event()

    async def run(self) -> Counter:
        from .delivery import Dispatcher

        r = self.r
        # few messages wait flipped-but-unsent: a crash makes those uncertain needlessly
        disp = Dispatcher(r.channels, concurrency=r.opts.concurrency,
                          max_pending=r.opts.concurrency + r.opts.flip_batch,
                          clock=r.delivery_clock)
        writer = asyncio.create_task(self._writer())
        jobs = self._jobs()
        try:
            async for job, res in disp.stream(jobs):
                self._result(job, res)
                # the writer lags (a busy database, a saturated host): send nothing new until
                # it catches up, so a crash cannot leave an unbounded tail of unrecorded sends
                while (len(self.pending) + self.writing >= r.opts.backlog
                       and not self.failure and not r.stopping):
                    self.flush_now.set()
                    self.recorded.clear()
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(self.recorded.wait(), 0.1)
        finally:
            await jobs.aclose()  # a claim made ahead is handed back now, not at collection
            self.done.set()
            self.flush_now.set()
            await writer  # a batch being written is written, or put back for the last flush
        await self._flush_until_recorded()
        if self.failure:
            raise self.failure[0]
        return self.counts

    # ------------------------------------------------------------------ claiming
    def _claim(self, chunk: list[Occurrence]) -> list[str]:
        r = self.r
        t0 = time.perf_counter()
        won = r.ledger.claim(self.name, [r.claim_of(o) for o in chunk], now=r.clock.now(),
                             lease_s=self.lease, skip_known=True)
        dt = time.perf_counter() - t0
        r.metrics.claim_latency(dt)
        r.log("claim", f"claimed {len(won)} of {len(chunk)}", "debug",
              ms=round(dt * 1000, 2), won=len(won))
        return won

    async def _send(self, keys: list[str], give_back: bool = True) -> AsyncIterator[Job]:
        """Flip claimed rows to ``sending`` a batch at a time, as the dispatcher asks for
        more; only the keys the flip returns are sent (a row taken over is not ours). On a
        stop the rest is handed back (``give_back``: rows this tick claimed fresh; rows taken
        over keep their history and wait for their lease). Database work runs in a thread:
        the loop meanwhile carries the requests in flight."""
        from .delivery import Job

        r = self.r
        if r.crash_hook == "claimed" and keys:
            os._exit(137)  # test hook: die with rows claimed, not yet sending
        flip = r.opts.flip_batch
        for j in range(0, len(keys), flip):
            if r.stopping or self.failure:  # the rest stays claimed: never sent
                if give_back:
                    await asyncio.to_thread(r.ledger.release, self.name, keys[j:])
                return
            go = await asyncio.to_thread(r.ledger.start_sending, self.name, keys[j:j + flip],
                                         now=r.clock.now(), lease_s=self.lease)
            if r.crash_hook in ("1", "sending") and go:
                os._exit(137)  # test hook: die between the flip to sending and the request
            r.metrics.queue_depth += len(go)
            for k in go:
                o = self.by_key[k]
                if o.refused:  # a text the template language refuses: recorded, never sent
                    from .channels.base import SendResult

                    self._result(self._job(o, Job), SendResult("failed", o.refused, parts=0,
                                                               attempts=0))
                    continue
                yield self._job(o, Job)

    async def _jobs(self) -> AsyncIterator[Job]:
        """Claims a chunk ahead, in a worker thread, while the previous one is sent (a
        ``claimed`` row is safe to hold: never sent, it can be taken over or released).
        Each runner takes the chunks in its own random order, so runners sharing a ledger
        rarely race for the same rows."""
        from sqlalchemy.exc import DBAPIError

        r, due = self.r, self.due
        step = r.opts.claim_chunk
        order = list(range(0, len(due), step))
        random.Random(r.ledger.runner_id).shuffle(order)
        ahead: asyncio.Future[list[str]] | None = None
        try:
            for i in range(0, len(self.reclaimed), step):
                async for job in self._send([o.key for o in self.reclaimed[i:i + step]],
                                            give_back=False):
                    yield job
            for n, i in enumerate(order):
                won = await (ahead if ahead is not None
                              else asyncio.to_thread(self._claim, due[i:i + step]))
                ahead = None
                if r.stopping or self.failure:
                    await asyncio.to_thread(r.ledger.release, self.name, won)
                    return
                if n + 1 < len(order):
                    j = order[n + 1]
                    ahead = asyncio.ensure_future(asyncio.to_thread(self._claim,
                                                                    due[j:j + step]))
                async for job in self._send(won):
                    yield job
        except DBAPIError as exc:
            self.failure.append(exc)
            r.log("ledger-error", "ledger unavailable: no new claims; messages in flight "
                  "finish and are recorded when it is back", "error")
        finally:
            if ahead is not None:  # claimed ahead but not sent (a stop): hand it back
                with contextlib.suppress(Exception):
                    won = await ahead
                    await asyncio.to_thread(r.ledger.release, self.name, won)

    def _job(self, o: Occurrence, job_type: Any) -> Any:
        from ..plan.groups import group_display_name
        from .channels.base import OutMessage

        r, book = self.r, self.book
        g = book.groups.get(o.group)
        msg = OutMessage(
            key=o.key, group_id=o.group,
            group_name=group_display_name(book.playbook, g) if g else o.group,
            chat_id=g.chat_id if g else None, text=o.text, format=o.format, mention=o.mention,
            attachments=o.attachments, kind=o.kind,
            remind_to=(g.owner if g else None) if o.delivery == "remind" else None,
            due=o.local, delivery=o.delivery)
        budget = o.grace_s - (r.clock.now() - o.at_utc).total_seconds()
        return job_type(r.opts.channel or o.channel, msg, max(1.0, budget))

    # ------------------------------------------------------------------ recording
    def _result(self, job: Job, res: Any) -> None:
        r, key, name = self.r, job.msg.key, self.name
        status = res.status if res.status != "retry" else "failed"
        resp = dict(res.response or {})
        if res.parts != 1:
            resp.setdefault("parts_posted", res.parts)
        self.pending.append(Outcome(key, status, res.reason, resp or None,
                                    max(1, getattr(res, "attempts", 1))))
        if len(self.pending) >= r.opts.backlog // 4:  # a batch worth a commit: now
            self.flush_now.set()
        self.counts[status] += 1
        r.metrics.queue_depth -= 1
        r.metrics.sent(status, job.channel)
        o = self.by_key[key]
        level = "debug" if status in ("sent", "pending-confirmation") else "warning"
        r.log(status, f"{status:<8} {job.msg.group_name} {o.slot} via {job.channel}"
              + (f": {res.reason}" if res.reason else ""),
              level, playbook=name, key=key, channel=job.channel)
        moved = resp.get("migrated_to_chat_id")
        if moved is not None:  # the channel follows it; the inventory must too
            r.log("chat-migrated", f"group {o.group} became a supergroup: set its chat_id to "
                  f"{moved} in the inventory (this process already posts there)", "warning",
                  playbook=name, key=key, group=o.group, chat_id=moved)

    async def _writer(self) -> None:
        """Results and lease renewals in a worker thread: the event loop keeps sending
        while PostgreSQL commits."""
        from sqlalchemy.exc import DBAPIError

        r = self.r
        renew_at = time.monotonic() + self.lease / 3
        while not self.done.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.flush_now.wait(), 0.05)
            self.flush_now.clear()
            batch = self.pending[:]
            del self.pending[:]
            self.writing = len(batch)
            try:
                if batch:
                    await asyncio.to_thread(r.ledger.finish, self.name, batch,
                                            now=r.clock.now())
                self.writer_failed = False
                self.recorded.set()
            except DBAPIError:  # kept and retried; the lease decides meanwhile
                self.pending[:0] = batch
                if not self.writer_failed:
                    r.log("ledger-error", f"ledger unavailable: {len(self.pending)} result(s) "
                          f"kept in memory and retried; sending pauses once "
                          f"{r.opts.backlog} wait", "error")
                self.writer_failed = True
            except Exception as exc:  # not the database being away: stop sending, report
                self.pending[:0] = batch
                self.failure.append(exc)
                return
            finally:
                self.writing = 0
            if time.monotonic() >= renew_at:
                with contextlib.suppress(DBAPIError):  # retried at the next beat
                    await asyncio.to_thread(r.ledger.renew, now=r.clock.now(),
                                            lease_s=self.lease)
                    renew_at = time.monotonic() + self.lease / 3

    async def _flush_until_recorded(self) -> None:
        """Write the last results, waiting for the ledger if it is away (a minute at most
        once stopping: the rows then stay ``sending`` and become ``uncertain``)."""
        from sqlalchemy.exc import DBAPIError

        r = self.r
        wait, waited = 0.5, 0.0
        while self.pending:
            try:
                r.ledger.finish(self.name, self.pending, now=r.clock.now())
                self.pending.clear()
            except DBAPIError:
                if r.stopping and waited > 60:
                    r.log("ledger-error", "results could not be recorded before stopping: "
                          "those messages will show as uncertain", "error")
                    return
                await asyncio.sleep(wait)
                waited += wait
                wait = min(10.0, wait * 2)

