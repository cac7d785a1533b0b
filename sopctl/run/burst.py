"""One tick's delivery: claim a chunk at a time, send through the dispatcher, whose gate
flips each row to ``sending`` right before its first request and records its result.

Nothing is sent without a committed claim and a committed flip, and a row is ``sending``
only while its message is in flight: the dispatcher lets at most ``concurrency`` messages be
between their first request and their recorded result, so that is all a crash can leave
``uncertain``. Messages waiting for a rate-limit window, or for a slot, are only ``claimed``:
after a crash they are taken over and sent; on a stop they are handed back (``released``)
for the next tick of any runner. A ledger error stops the claiming and the flipping;
messages in flight finish, their results are written once the ledger is back, and the error
then goes up to the runner's backoff. Every ledger call runs in a worker thread, so the
event loop keeps carrying the requests in flight while the database commits.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import random
import time
from collections import Counter, deque
from collections.abc import AsyncIterator, Callable
from datetime import datetime
from typing import TYPE_CHECKING, Any

from ..i18n import _, ngettext
from .ledger import Ledger, Outcome
from .reasons import show, status_text

if TYPE_CHECKING:
    from ..plan.types import Occurrence
    from .channels.base import SendResult
    from .delivery import Job
    from .runner import Book, Runner


def _log_to_logging(event: str, message: str, level: str = "info", **_fields: Any) -> None:
    import logging

    logging.getLogger("sopctl.run").log(logging.getLevelName(level.upper()), message)


def outcome_of(key: str, res: SendResult) -> Outcome:
    """The ledger outcome of a dispatcher result."""
    status = res.status if res.status != "retry" else "failed"
    resp = dict(res.response or {})
    if res.parts != 1:
        resp.setdefault("parts_posted", res.parts)
    return Outcome(key, status, res.reason, resp or None, max(1, res.attempts))


class LedgerGate:
    """The ledger's side of a dispatcher (``delivery.Gate``) for one playbook's claimed rows.

    ``begin`` flips a row to ``sending`` right before its message's first request is
    written; ``end`` records the result before the message frees its dispatcher slot. Both
    are group commits in a worker thread: what waits while one commit runs goes in the
    next. Rows that were never sent — refused once the gate is closed (:meth:`refuse`),
    dropped by a stop before they began, or whose flip could not be confirmed — are listed
    in ``unsent`` for the owner to hand back (``Ledger.release``); a row another runner took
    over meanwhile is not ours and is neither sent nor listed. Use as ``async with``: leaving
    waits until every result handed to ``end`` is recorded (or, once ``refuse`` was called,
    gives up after a minute of ledger outage: those rows become ``uncertain``)."""

    def __init__(self, ledger: Ledger, playbook: str, *, now: Callable[[], datetime],
                 lease_s: float, log: Callable[..., None] | None = None,
                 on_failure: Callable[[], None] = lambda: None,
                 on_flip: Callable[[list[str]], None] | None = None,
                 on_record: Callable[[Any, list[str]], None] | None = None,
                 linger: float = 0.0) -> None:
        """``now``: the clock the leases are on; ``log(event, message, level)``: where
        ledger outages are reported (default: the ``sopctl.run`` logger); ``on_failure``:
        called once the gate refuses because of an error (stop the dispatcher);
        ``on_flip``: told the keys of each committed flip (a test hook); ``on_record(conn,
        keys)``: run in the transaction that records results (``Ledger.finish``'s
        ``also``); ``linger``: seconds a flip or a result waits for others to share its
        transaction (for a sender handed a few rows at a time)."""
        self.ledger, self.playbook, self.now, self.lease_s = ledger, playbook, now, lease_s
        self.linger = linger
        self.log = log or _log_to_logging
        self.on_failure, self.on_flip, self.on_record = on_failure, on_flip, on_record
        self.unsent: list[str] = []
        self.failure: list[BaseException] = []
        self.refusing = False
        self._not_ours: set[str] = set()
        self._flips: list[tuple[str, asyncio.Future[bool]]] = []
        self._results: list[tuple[Outcome, asyncio.Future[None] | None]] = []
        self._flip_wake = asyncio.Event()
        self._result_wake = asyncio.Event()
        self._closing = False
        self._workers: list[asyncio.Task[None]] = []

    async def __aenter__(self) -> LedgerGate:
        self._workers = [asyncio.create_task(self._flipper()),
                         asyncio.create_task(self._recorder())]
        return self

    async def __aexit__(self, *exc: object) -> None:
        self.refusing = self._closing = True
        self._flip_wake.set()
        self._result_wake.set()
        await asyncio.gather(*self._workers, return_exceptions=True)

    def refuse(self) -> None:
        """Begin nothing more (a stop, a ledger error): messages not yet begun are unsent."""
        self.refusing = True

    def _fail(self, exc: BaseException) -> None:
        self.failure.append(exc)
        self.refusing = True
        self.on_failure()

    # ------------------------------------------------------------------ the Gate protocol
    async def begin(self, job: Job) -> bool:
        if self.refusing:
            return False
        fut: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
        self._flips.append((job.msg.key, fut))
        self._flip_wake.set()
        return await fut

    async def end(self, job: Job, result: SendResult | None) -> None:
        key = job.msg.key
        if result is None:
            if key not in self._not_ours:
                self.unsent.append(key)
            return
        fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._results.append((outcome_of(key, result), fut))
        self._result_wake.set()
        await fut

    def record(self, outcome: Outcome) -> None:
        """Record a row that is never sent (e.g. a text that cannot be rendered)."""
        self._results.append((outcome, None))
        self._result_wake.set()

    # ------------------------------------------------------------------ workers
    async def _linger(self) -> None:
        if self.linger > 0 and not self._closing:
            await asyncio.sleep(self.linger)

    async def _flipper(self) -> None:
        from sqlalchemy.exc import DBAPIError

        while not (self._closing and not self._flips):
            await self._flip_wake.wait()
            await self._linger()
            self._flip_wake.clear()
            batch, self._flips = self._flips, []
            if not batch:
                continue
            keys = [k for k, _f in batch]
            try:
                go = set(await asyncio.to_thread(
                    self.ledger.start_sending, self.playbook, keys, now=self.now(),
                    lease_s=self.lease_s))
            except Exception as exc:  # the flip may or may not have committed: not sent
                go = set()
                if isinstance(exc, DBAPIError) and not self.failure:
                    self.log("ledger-error", _("ledger unavailable: nothing more is sent; "
                                               "messages in flight finish and are recorded "
                                               "when it is back"), "error")
                self._fail(exc)
            else:
                self._not_ours.update(k for k in keys if k not in go)
                if go and self.on_flip is not None:
                    self.on_flip(sorted(go))
            for k, f in batch:
                if not f.done():
                    f.set_result(k in go)

    async def _recorder(self) -> None:
        """Results, and lease renewals every lease/3 (rows waiting for a rate-limit window
        stay claimed a long time)."""
        from sqlalchemy.exc import DBAPIError

        renew_at = time.monotonic() + self.lease_s / 3
        wait, waited, told = 0.5, 0.0, False
        while not (self._closing and not self._results):
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._result_wake.wait(),
                                       max(0.01, renew_at - time.monotonic()))
            if self._results:
                await self._linger()
            self._result_wake.clear()
            batch, self._results = self._results, []
            try:
                if batch:
                    await asyncio.to_thread(self.ledger.finish, self.playbook,
                                            [o for o, _f in batch], now=self.now(),
                                            also=self.on_record)
                wait, waited, told = 0.5, 0.0, False
            except DBAPIError:  # kept and retried; the slots they hold pause new sends
                self._results[:0] = batch
                if not told:
                    n = len(self._results)
                    self.log("ledger-error", ngettext(
                        "ledger unavailable: {n} result kept in memory and retried",
                        "ledger unavailable: {n} results kept in memory and retried",
                        n).format(n=n), "error")
                    told = True
                if self.refusing and waited > 60:
                    self.log("ledger-error", _("results could not be recorded before "
                                               "stopping: those messages will show as "
                                               "uncertain"), "error")
                    batch, self._results = self._results, []
                else:
                    await asyncio.sleep(wait)
                    waited += wait
                    wait = min(10.0, wait * 2)
                    self._result_wake.set()
                    continue
            except Exception as exc:  # not the database being away: stop sending, report
                self._fail(exc)
            for _o, f in batch:  # recorded, or given up on: the slot is free either way
                if f is not None and not f.done():
                    f.set_result(None)
            if time.monotonic() >= renew_at:
                with contextlib.suppress(DBAPIError):  # retried at the next beat
                    await asyncio.to_thread(self.ledger.renew, now=self.now(),
                                            lease_s=self.lease_s)
                renew_at = time.monotonic() + self.lease_s / 3


class Burst:
    """The due and reclaimed occurrences of one playbook in one tick."""

    def __init__(self, runner: Runner, book: Book, due: list[Occurrence],
                 reclaimed: list[Occurrence]):
        self.r, self.book, self.due, self.reclaimed = runner, book, due, reclaimed
        self.name, self.lease = book.name, runner.opts.lease_s
        self.by_key = {o.key: o for o in (*due, *reclaimed)}
        self.counts: Counter = Counter()
        self.unclaimed: list[str] = []  # claimed by this burst, never handed to a sender
        self.failure: list[BaseException] = []
        self.gate: LedgerGate | None = None
        self.disp: Any = None
        self._given = 0  # jobs handed to the dispatcher (for the queue-depth gauge)
        self._done = 0

    def stop(self) -> None:
        """Begin nothing more; what is in flight finishes (called by ``Runner.stop``)."""
        if self.gate is not None:
            self.gate.refuse()
        if self.disp is not None:
            self.disp.stop()

    async def run(self) -> Counter:
        from sqlalchemy.exc import DBAPIError

        from .delivery import Dispatcher

        r = self.r
        crash = r.crash_hook in ("1", "sending")
        self.gate = gate = LedgerGate(
            r.ledger, self.name, now=r.clock.now, lease_s=self.lease, log=r.log,
            on_failure=self.stop,
            on_flip=(lambda _keys: os._exit(137)) if crash else None)  # test hook
        self.disp = disp = Dispatcher(r.channels, concurrency=r.opts.concurrency,
                                      max_pending=r.opts.concurrency + r.opts.claim_chunk,
                                      clock=r.delivery_clock, gate=gate)
        if r.stopping:
            self.stop()
        jobs = self._jobs()
        try:
            async with gate:
                try:
                    async for job, res in disp.stream(jobs):
                        self._result(job, res)
                finally:
                    await jobs.aclose()  # a claim made ahead is handed back now
        finally:
            self.gate = self.disp = None
            r.metrics.queue_depth -= self._given - self._done
        unsent = gate.unsent + self.unclaimed
        if unsent:
            try:
                n = await asyncio.to_thread(r.ledger.release, self.name, unsent,
                                            now=r.clock.now())
            except DBAPIError:  # the next tick hands them back
                r.unsent.setdefault(self.name, set()).update(unsent)
            else:
                r.log("released", ngettext(
                    "{n} claimed message of {playbook} handed back, never sent: the next "
                    "tick of any runner sends it",
                    "{n} claimed messages of {playbook} handed back, never sent: the next "
                    "tick of any runner sends them", n).format(n=n, playbook=self.name),
                    playbook=self.name, count=n)
        failure = self.failure + gate.failure
        if failure:
            raise failure[0]
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

    def _halted(self) -> bool:
        return self.r.stopping or bool(self.failure) or bool(self.gate and self.gate.refusing)

    async def _jobs(self) -> AsyncIterator[Job]:
        """The reclaimed rows (ours already), then the due ones claimed a chunk at a time,
        one chunk ahead in a worker thread while the previous one is sent (a ``claimed``
        row is safe to hold: never sent, it can be taken over or handed back). Each runner
        takes the chunks in its own random order, so runners sharing a ledger rarely race
        for the same rows. Whatever was claimed but not handed out is ``unclaimed``."""
        from sqlalchemy.exc import DBAPIError

        r, due = self.r, self.due
        step = r.opts.claim_chunk
        order = list(range(0, len(due), step))
        random.Random(r.ledger.runner_id).shuffle(order)
        queue: deque[str] = deque(o.key for o in self.reclaimed)
        ahead: asyncio.Future[list[str]] | None = None
        try:
            for n in range(len(order) + 1):
                while queue and not self._halted():
                    job = self._job(self.by_key[queue.popleft()])
                    if job is not None:
                        yield job
                if n == len(order) or self._halted():
                    return
                i = order[n]
                won = await (ahead if ahead is not None
                             else asyncio.to_thread(self._claim, due[i:i + step]))
                ahead = None
                queue.extend(won)
                if r.crash_hook == "claimed" and won:
                    os._exit(137)  # test hook: die with rows claimed, none sending
                if n + 1 < len(order) and not self._halted():
                    j = order[n + 1]
                    ahead = asyncio.ensure_future(asyncio.to_thread(self._claim,
                                                                    due[j:j + step]))
        except DBAPIError as exc:
            self.failure.append(exc)
            self.stop()
            r.log("ledger-error", _("ledger unavailable: no new claims; messages in flight "
                                    "finish and are recorded when it is back"), "error")
        finally:
            self.unclaimed.extend(queue)
            if ahead is not None:  # claimed ahead but not sent (a stop): hand it back
                with contextlib.suppress(Exception):
                    self.unclaimed.extend(await ahead)

    def _job(self, o: Occurrence) -> Job | None:
        """The message of ``o``; None when its text cannot be rendered (recorded failed)."""
        from ..plan.groups import group_display_name
        from .channels.base import OutMessage, SendResult
        from .delivery import Job

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
        job = Job(r.opts.channel or o.channel, msg, max(1.0, budget))
        self._given += 1
        r.metrics.queue_depth += 1
        refused = getattr(o, "refused", "")
        if refused:  # a text the template language refuses: recorded, never sent
            res = SendResult("failed", refused, parts=0, attempts=0)
            assert self.gate is not None
            self.gate.record(outcome_of(o.key, res))
            self._result(job, res)
            return None
        return job

    # ------------------------------------------------------------------ results
    def _result(self, job: Job, res: SendResult) -> None:
        """Count and log one result (the gate has recorded it)."""
        r, key, name = self.r, job.msg.key, self.name
        status = res.status if res.status != "retry" else "failed"
        self._done += 1
        r.metrics.queue_depth -= 1
        self.counts[status] += 1
        r.metrics.sent(status, job.channel)
        o = self.by_key[key]
        level = "debug" if status in ("sent", "pending-confirmation") else "warning"
        line = _("{status} {group} {slot} via {channel}").format(
            status=status_text(status), group=job.msg.group_name, slot=o.slot,
            channel=job.channel)
        r.log(status, line + (": " + show(res.reason) if res.reason else ""),
              level, playbook=name, key=key, channel=job.channel)
        moved = (res.response or {}).get("migrated_to_chat_id")
        if moved is not None:  # the channel follows it; the inventory must too
            r.log("chat-migrated", _("group {group} became a supergroup: set its chat_id to "
                                     "{chat} in the inventory (this process already posts "
                                     "there)").format(group=o.group, chat=moved), "warning",
                  playbook=name, key=key, group=o.group, chat_id=moved)
