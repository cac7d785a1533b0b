"""The runner: wakes at the plan's next instant, claims what is due, sends, records.

APScheduler is only the alarm clock (one DateTrigger at the next occurrence); the
ledger decides. Each tick looks at the window since the last recorded tick:
occurrences still inside their grace are claimed (committed) and then sent; older
ones are recorded ``skipped`` ("missed while down"). A claim without a result, left by
a crash, becomes ``uncertain`` on the next start and is re-sent only on request.
"""

from __future__ import annotations

import asyncio
import bisect
import contextlib
import hashlib
import os
import time
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .clock import Clock
from .ledger import Claim, Ledger, Outcome
from .metrics import EventLog, Metrics
from .reload import Checked, Watcher, check_playbook, inventory_paths

if TYPE_CHECKING:
    from ..plan.types import Occurrence
    from ..playbook.model import Playbook

SKIP_REASON = "missed while down"
_DAY = timedelta(days=1)


@dataclass(slots=True)
class RunOptions:
    once: bool = False
    since: datetime | None = None
    resend_uncertain: bool = False
    channel: str | None = None  # one channel for everything (e.g. console for a demo)
    dry_run: bool = False
    concurrency: int = 200
    claim_chunk: int = 200
    reload_every_s: float = 2.0
    state_dir: Path = field(default_factory=lambda: Path(".sopctl"))


@dataclass(slots=True)
class Summary:
    counts: Counter = field(default_factory=Counter)  # status -> n, for this process
    already: int = 0  # due occurrences another run had already handled
    dry: list = field(default_factory=list)  # (playbook, Occurrence) in --dry-run

    def add(self, other: Summary) -> None:
        self.counts.update(other.counts)
        self.already += other.already
        self.dry.extend(other.dry)


def content_hash(o: Occurrence) -> str:
    h = hashlib.sha256(f"{o.channel}\x1f{o.format}\x1f{o.mention}\x1f{o.text}\x1f"
                       f"{o.attachments!r}".encode())
    return h.hexdigest()[:16]


class PlanView:
    """One playbook's plan, built a UTC day at a time and kept for two days."""

    def __init__(self, playbook: Playbook):
        self.playbook = playbook
        self._days: dict[datetime, tuple[list[datetime], list[Occurrence]]] = {}

    def _day(self, start: datetime) -> tuple[list[datetime], list[Occurrence]]:
        got = self._days.get(start)
        if got is None:
            from ..plan import build_plan

            occs = [o for o in build_plan(self.playbook, start, start + _DAY)
                    if start <= o.at_utc < start + _DAY]
            occs.sort(key=lambda o: (o.at_utc, o.key))
            got = ([o.at_utc for o in occs], occs)
            if len(self._days) >= 2:
                self._days.pop(min(self._days))
            self._days[start] = got
        return got

    @staticmethod
    def _floor(t: datetime) -> datetime:
        return t.replace(hour=0, minute=0, second=0, microsecond=0)

    def window(self, start: datetime, end: datetime) -> Iterator[Occurrence]:
        """Occurrences with start <= at_utc <= end, in time order."""
        day = self._floor(start)
        while day <= end:
            if end - start > 3 * _DAY:  # a long outage: don't evict the cache for it
                from ..plan import build_plan

                occs = sorted((o for o in build_plan(self.playbook, day, day + _DAY)
                               if day <= o.at_utc < day + _DAY), key=lambda o: o.at_utc)
                times = [o.at_utc for o in occs]
            else:
                times, occs = self._day(day)
            lo, hi = bisect.bisect_left(times, start), bisect.bisect_right(times, end)
            yield from occs[lo:hi]
            day += _DAY

    def next_after(self, t: datetime) -> datetime | None:
        day = self._floor(t)
        for _ in range(2):
            times, _occs = self._day(day)
            i = bisect.bisect_right(times, t)
            if i < len(times):
                return times[i]
            day += _DAY
        try:
            from ..plan import next_occurrence_after
        except ImportError:
            return None
        nxt = next_occurrence_after(self.playbook, day)
        if nxt is None:
            return None
        return getattr(nxt, "at_utc", nxt)


class Book:
    """One playbook as the runner holds it: the plan, its groups and its watcher."""

    def __init__(self, checked: Checked):
        assert checked.playbook is not None
        self.path = checked.path
        self.watcher = Watcher(checked.path, inventory_paths(checked.path, checked.playbook))
        self.adopt(checked.playbook)

    def adopt(self, playbook: Playbook) -> None:
        from ..plan.groups import playbook_groups

        self.playbook = playbook
        self.name = playbook.name
        self.plan = PlanView(playbook)
        self.groups = {g.id: g for g in playbook_groups(playbook)}
        self.max_grace_s = max((o_grace(s.grace) for s in playbook.timetable), default=1800)


def o_grace(v: str | int) -> int:
    from ..playbook.timeparse import parse_duration

    return int(parse_duration(v))


class Runner:
    """Runs one or more playbooks against one ledger."""

    def __init__(self, books: Sequence[Book], ledger: Ledger, clock: Clock, opts: RunOptions,
                 *, channels: dict[str, Any], log: EventLog | None = None,
                 metrics: Metrics | None = None, env: dict[str, str] | None = None):
        self.books = list(books)
        self.ledger = ledger
        self.clock = clock
        self.opts = opts
        self.channels = channels
        self.log = log or EventLog(quiet=True)
        self.metrics = metrics or Metrics()
        self.env = env if env is not None else dict(os.environ)
        self.stopping = False
        self._first = True
        self._wake: asyncio.Event | None = None
        self._crash_hook = os.environ.get("SOPCTL_TEST_CRASH_AFTER_CLAIM") == "1"

    # ------------------------------------------------------------------ control
    def stop(self) -> None:
        """Stop claiming; what is in flight finishes (SIGTERM / SIGINT)."""
        if not self.stopping:
            self.log("stop", "stopping: no new claims, finishing messages in flight")
        self.stopping = True
        if self._wake is not None:
            self._wake.set()

    async def run_once(self) -> Summary:
        if not self.opts.dry_run:
            self._recover()
        return await self.tick(self.clock.now())

    async def run_forever(self) -> Summary:
        """Tick, sleep until the plan's next instant (or a reload check), repeat."""
        from apscheduler.schedulers.background import BackgroundScheduler
        from apscheduler.triggers.date import DateTrigger
        from sqlalchemy.exc import DBAPIError

        loop = asyncio.get_running_loop()
        self._wake = wake = asyncio.Event()
        sched = BackgroundScheduler(timezone="UTC", job_defaults={
            "misfire_grace_time": 3600, "coalesce": True, "max_instances": 1})
        sched.start()
        total = Summary()
        self._recover()
        try:
            backoff = 1.0
            while not self.stopping:
                try:
                    total.add(await self.tick(self.clock.now()))
                    backoff = 1.0
                except DBAPIError as exc:  # never send without a committed claim: wait, retry
                    self.log("ledger-error", f"ledger unavailable ({type(exc.orig).__name__}); "
                             f"no claims for {backoff:.0f} s", "error")
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(wake.wait(), backoff)
                    backoff = min(60.0, backoff * 2)
                    continue
                wake.clear()
                nxt = self.next_due(self.clock.now())
                if nxt is not None:
                    sched.add_job(loop.call_soon_threadsafe, DateTrigger(
                        run_date=self.clock.to_wall(nxt)), args=(wake.set,), id="wake",
                        replace_existing=True)  # an alarm, not a record
                    self.log("sleep", f"next occurrence at {nxt.isoformat()}", "debug")
                while not self.stopping:  # idle: a stat() per playbook every few seconds
                    try:
                        await asyncio.wait_for(wake.wait(), self.opts.reload_every_s)
                        break
                    except TimeoutError:
                        if self.check_reload():
                            break
        finally:
            sched.shutdown(wait=False)
        return total

    def next_due(self, now: datetime) -> datetime | None:
        times = [t for b in self.books if (t := b.plan.next_after(now)) is not None]
        return min(times) if times else None

    def check_reload(self) -> bool:
        """Adopt edited playbooks that lint clean; True when a plan changed."""
        changed = False
        for book in self.books:
            if not book.watcher.changed():
                continue
            checked = check_playbook(book.path)
            if checked.playbook is None:
                self.metrics.reloads["rejected"] += 1
                self.log("reload-rejected", f"{book.path} changed but has errors; the previous "
                         "version keeps running", "error",
                         findings=[f.short() for f in checked.errors])
                for f in checked.errors:
                    self.log("finding", f.short(), "error")
                continue
            book.adopt(checked.playbook)
            book.watcher.set_extra(inventory_paths(book.path, checked.playbook))
            self.metrics.reloads["ok"] += 1
            self.log("reload", f"{book.path} reloaded: the new plan applies from now")
            changed = True
        return changed

    def _recover(self) -> None:
        n = self.ledger.recover(now=self.clock.now())
        if n:
            self.log("uncertain", f"{n} message(s) were claimed by a runner that stopped before "
                     "recording the result: marked uncertain (see `sopctl history "
                     "--uncertain`; --resend-uncertain sends them again)", "warning", count=n)

    # ------------------------------------------------------------------ one tick
    async def tick(self, now: datetime) -> Summary:
        out = Summary()
        for book in self.books:
            if self.stopping:
                break
            out.add(await self._tick_book(book, now))
        self._first = False
        self.metrics.ticks += 1
        return out

    async def _tick_book(self, book: Book, now: datetime) -> Summary:
        s = Summary()
        start = (self.opts.since if self._first and self.opts.since is not None
                 else self.ledger.last_tick(book.name)
                 or now - timedelta(seconds=book.max_grace_s))
        if self.opts.resend_uncertain:  # uncertain rows may predate the last tick
            start = min(start, now - timedelta(seconds=book.max_grace_s))
        occs = list(book.plan.window(start, now))
        if self.opts.dry_run:
            known = self.ledger.statuses(book.name, [o.key for o in occs])
            s.dry.extend((book.name, o) for o in occs if o.key not in known
                         and (now - o.at_utc).total_seconds() <= o.grace_s)
            return s
        known = self.ledger.statuses(book.name, [o.key for o in occs]) if occs else {}
        due, late, resend = [], [], []
        for o in occs:
            st = known.get(o.key)
            in_grace = (now - o.at_utc).total_seconds() <= o.grace_s
            if st is None:
                (due if in_grace else late).append(o)
            elif st == "uncertain" and self.opts.resend_uncertain and in_grace:
                resend.append(o)
            else:
                s.already += 1
        if late:
            n = book.name
            claims = [self._claim(o) for o in late]
            got = self.ledger.record(n, claims, "skipped", SKIP_REASON, now=now)
            s.counts["skipped"] += got
            self.metrics.sent("skipped", "-", got)
            if got:
                self.log("skipped", f"{got} occurrence(s) of {n} missed while down (past their "
                         "grace): recorded skipped, not sent", "warning", playbook=n, count=got)
        if resend:
            won = set(self.ledger.reclaim_uncertain(book.name, [o.key for o in resend], now=now))
            resend = [o for o in resend if o.key in won]
        if due or resend:
            s.counts.update(await self._deliver(book, due, resend, now))
        self.ledger.set_tick(book.name, now)
        return s

    def _claim(self, o: Occurrence) -> Claim:
        return Claim(o.key, o.group, o.slot, o.seq, o.at_utc, content_hash(o),
                     self.opts.channel or o.channel)

    # ------------------------------------------------------------------ delivery
    async def _deliver(self, book: Book, due: list[Occurrence], reclaimed: list[Occurrence],
                       now: datetime) -> Counter:
        from .delivery import Dispatcher, Job

        counts: Counter = Counter()
        pending: list[Outcome] = []
        by_key = {o.key: o for o in (*due, *reclaimed)}
        name = book.name

        def jobs() -> Iterator[Job]:
            """Claims lazily, a chunk at a time, so a stop leaves nothing claimed unsent."""
            for o in reclaimed:
                yield self._job(book, o, Job)
            for i in range(0, len(due), self.opts.claim_chunk):
                if self.stopping:
                    return
                chunk = due[i:i + self.opts.claim_chunk]
                t0 = time.perf_counter()
                won = self.ledger.claim(name, [self._claim(o) for o in chunk],
                                        now=self.clock.now(),
                                        lease_s=max(o.grace_s for o in chunk) + 900)
                self.metrics.claim_latency(time.perf_counter() - t0)
                if self._crash_hook and won:
                    os._exit(137)  # test hook: die between claim and send
                self.metrics.queue_depth += len(won)
                for k in won:
                    yield self._job(book, by_key[k], Job)

        def flush() -> None:
            if pending:
                self.ledger.finish(name, pending, now=self.clock.now())
                pending.clear()

        async def flusher() -> None:
            while True:
                await asyncio.sleep(0.05)
                flush()

        disp = Dispatcher(self.channels, concurrency=self.opts.concurrency)
        ticker = asyncio.create_task(flusher())
        try:
            async for job, res in disp.stream(jobs()):
                key = job.msg.key
                status = res.status if res.status != "retry" else "failed"
                resp = dict(res.response or {})
                if res.parts != 1:
                    resp.setdefault("parts_posted", res.parts)
                pending.append(Outcome(key, status, res.reason, resp or None,
                                       max(1, getattr(res, "attempts", 1))))
                counts[status] += 1
                self.metrics.queue_depth -= 1
                self.metrics.sent(status, job.channel)
                level = "debug" if status in ("sent", "pending-confirmation") else "warning"
                self.log(status, f"{status:<8} {job.msg.group_name} {by_key[key].slot}"
                         f" via {job.channel}" + (f": {res.reason}" if res.reason else ""),
                         level, playbook=name, key=key, channel=job.channel)
                if len(pending) >= 200:
                    flush()
        finally:
            ticker.cancel()
            flush()
        return counts

    def _job(self, book: Book, o: Occurrence, job_type: Any) -> Any:
        from ..plan.groups import group_display_name
        from .channels.base import OutMessage

        g = book.groups.get(o.group)
        msg = OutMessage(
            key=o.key, group_id=o.group,
            group_name=group_display_name(book.playbook, g) if g else o.group,
            chat_id=g.chat_id if g else None, text=o.text, format=o.format, mention=o.mention,
            attachments=o.attachments, kind=o.kind,
            remind_to=(g.owner if g else None) if o.delivery == "remind" else None,
            due=o.local, delivery=o.delivery)
        budget = o.grace_s - (self.clock.now() - o.at_utc).total_seconds()
        return job_type(self.opts.channel or o.channel, msg, max(1.0, budget))
