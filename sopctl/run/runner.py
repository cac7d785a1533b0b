"""The runner: wakes at the plan's next instant, claims what is due, sends, records.

APScheduler is only the alarm clock (one DateTrigger at the next occurrence); the
ledger decides. Each tick looks at the window since the last recorded tick:
occurrences still inside their grace are claimed (committed) and then sent; older
ones are recorded ``skipped`` ("missed while down"). A claim without a result, left by
a crash, becomes ``uncertain`` on the next start and is re-sent only on request.

Several runners may share one PostgreSQL ledger (docs/scaling.md): each computes the same
plan, the ledger's unique key gives each occurrence to one of them, leases let a survivor
take over what a dead runner had claimed but not yet started sending, and ``--shard I/N``
splits the groups by a stable hash.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import os
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .clock import Clock
from .ledger import Claim, Ledger, Outcome
from .metrics import EventLog, Metrics
from .planview import PlanView
from .reload import Checked, Watcher, check_playbook, inventory_paths

if TYPE_CHECKING:
    from ..plan.types import Occurrence
    from ..playbook.model import Playbook
    from .channelset import ChannelSet

SKIP_REASON = "missed while down"


@dataclass(slots=True)
class RunOptions:
    once: bool = False
    since: datetime | None = None
    resend_uncertain: bool = False
    channel: str | None = None  # one channel for everything (e.g. console for a demo)
    dry_run: bool = False
    concurrency: int = 200
    claim_chunk: int = 200
    flip_batch: int = 50  # rows flipped claimed -> sending per commit, just before sending
    backlog: int = 100  # results not yet in the ledger before sending pauses for them
    reload_every_s: float = 2.0
    lease_s: float = 60.0  # renewed every lease/3 while a runner holds rows
    shard: tuple[int, int] | None = None  # (I, N), 1 <= I <= N
    state_dir: Path = field(default_factory=lambda: Path(".sopctl"))

    def __post_init__(self) -> None:
        for name in ("concurrency", "claim_chunk", "flip_batch", "backlog"):
            if getattr(self, name) < 1:
                raise ValueError(f"RunOptions.{name} must be at least 1")

    @property
    def uncertain_bound(self) -> int:
        """The most rows one crash can leave ``sending`` (hence ``uncertain``): requests in
        the dispatcher, the rest of a flipped batch not yet handed over, results not yet
        written."""
        return self.concurrency + 2 * self.flip_batch - 1 + self.backlog


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


def shard_of(group_id: str, n: int) -> int:
    """The shard (1..n) of a group: a stable hash, the same on every host and release."""
    d = hashlib.blake2b(group_id.encode(), digest_size=8).digest()
    return int.from_bytes(d, "big") % n + 1


def parse_shard(value: str | None) -> tuple[int, int] | None:
    """'2/3' -> (2, 3); raises ValueError with a readable message."""
    if not value:
        return None
    try:
        i, n = (int(x) for x in value.split("/"))
    except ValueError:
        raise ValueError(f"--shard {value!r}: expected I/N, e.g. 2/3") from None
    if not 1 <= i <= n:
        raise ValueError(f"--shard {value!r}: I must be between 1 and N")
    return i, n


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
                 metrics: Metrics | None = None, env: dict[str, str] | None = None,
                 delivery_clock: Any = None, channel_set: ChannelSet | None = None):
        self.books = list(books)
        self.ledger = ledger
        self.clock = clock
        self.opts = opts
        self.channels = channels
        self.channel_set = channel_set  # when given, reloads rebuild changed channels
        self.log = log or EventLog(quiet=True)
        self.metrics = metrics or Metrics()
        self.env = env if env is not None else dict(os.environ)
        self.stopping = False
        # the clock the channels' DeliveryContext uses: deadlines must be on the same one
        self.delivery_clock = delivery_clock
        self._first = True
        self._wake: asyncio.Event | None = None
        # test hook: "claimed" dies after the claim commits, "1"/"sending" after the flip
        # to sending (between claim and send either way)
        self.crash_hook = os.environ.get("SOPCTL_TEST_CRASH_AFTER_CLAIM", "")
        self._next_lease_check = 0.0

    # ------------------------------------------------------------------ control
    def stop(self) -> None:
        """Stop claiming; what is in flight finishes (SIGTERM / SIGINT)."""
        if not self.stopping:
            self.log("stop", "stopping: no new claims, finishing messages in flight")
        self.stopping = True
        if self._wake is not None:
            self._wake.set()

    async def run_once(self) -> Summary:
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
                    backoff = min(30.0, backoff * 2)
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
                        if self.check_reload() or self._leases_expired():
                            break
        finally:
            sched.shutdown(wait=False)
        return total

    def _leases_expired(self) -> bool:
        """True when another runner's lease has run out (rows to take over or judge)."""
        t = time.monotonic()
        if t < self._next_lease_check:
            return False
        self._next_lease_check = t + min(5.0, self.opts.lease_s / 3)
        try:
            exp = self.ledger.next_expiry()
        except Exception:  # the ledger is away: the tick's own error handling waits for it
            return True
        return exp is not None and exp < self.clock.now()

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
            if not self._refresh_channels(book, checked.playbook):
                continue
            book.adopt(checked.playbook)
            book.watcher.set_extra(inventory_paths(book.path, checked.playbook))
            self.metrics.reloads["ok"] += 1
            self.log("reload", f"{book.path} reloaded: the new plan applies from now")
            changed = True
        return changed

    def _refresh_channels(self, book: Book, playbook: Playbook) -> bool:
        """Build the channels the new version adds or changes; False (and the reload is
        refused) when one cannot be built."""
        from ..errors import SopctlError

        if self.channel_set is None:
            return True
        pbs = [playbook if b is book else b.playbook for b in self.books]
        try:
            rebuilt = self.channel_set.refresh(pbs)
        except Exception as exc:  # a bad URL as much as a missing secret: refuse, keep running
            why = exc.message if isinstance(exc, SopctlError) else f"{type(exc).__name__}: {exc}"
            self.metrics.reloads["rejected"] += 1
            self.log("reload-rejected", f"{book.path} changed but its channels cannot be "
                     f"built ({why}); the previous version keeps running", "error")
            return False
        if rebuilt:
            self.log("channels", f"{book.path}: channel(s) {', '.join(rebuilt)} built from "
                     "the new version", playbook=book.name, channels=rebuilt)
        return True

    def _recover(self) -> None:
        n = self.ledger.recover(now=self.clock.now())
        if n:
            self.log("uncertain", f"{n} message(s) were claimed by a runner that stopped before "
                     "recording the result: marked uncertain (see `sopctl history "
                     "--uncertain`; --resend-uncertain sends them again)", "warning", count=n)

    # ------------------------------------------------------------------ one tick
    async def tick(self, now: datetime) -> Summary:
        out = Summary()
        if self.channel_set is not None:
            await self.channel_set.close_retired()
        if not self.opts.dry_run:
            self._recover()
        for book in self.books:
            if self.stopping:
                break
            out.add(await self._tick_book(book, now))
        self._first = False
        self.metrics.ticks += 1
        return out

    def _mine(self, group_id: str) -> bool:
        sh = self.opts.shard
        return sh is None or shard_of(group_id, sh[1]) == sh[0]

    async def _tick_book(self, book: Book, now: datetime) -> Summary:
        s = Summary()
        start = (self.opts.since if self._first and self.opts.since is not None
                 else self.ledger.last_tick(book.name)
                 or now - timedelta(seconds=book.max_grace_s))
        # claims older than the last tick may be orphans of a dead runner: look back a grace
        lookback = min(start, now - timedelta(seconds=book.max_grace_s))
        if self.opts.resend_uncertain:  # uncertain rows may predate the last tick
            start = lookback
        occs = [o for o in book.plan.window(lookback, now) if self._mine(o.group)]
        if self.opts.dry_run:
            known = self.ledger.statuses(book.name, [o.key for o in occs])
            s.dry.extend((book.name, o) for o in occs if o.key not in known and o.at_utc >= start
                         and (now - o.at_utc).total_seconds() <= o.grace_s)
            return s
        known = self.ledger.statuses(book.name, [o.key for o in occs]) if occs else {}
        due, late, resend, orphans = [], [], [], []
        for o in occs:
            st = known.get(o.key)
            in_grace = (now - o.at_utc).total_seconds() <= o.grace_s
            if st is None:
                if o.at_utc >= start:
                    (due if in_grace else late).append(o)
            elif st == "claimed":
                orphans.append(o)
            elif st == "uncertain" and self.opts.resend_uncertain and in_grace:
                resend.append(o)
            elif o.at_utc >= start:
                s.already += 1
        n = book.name
        if orphans:  # claimed, never sent, holder gone: ours now (one winner per row)
            won = set(self.ledger.take_over(n, [o.key for o in orphans], now=now,
                                            lease_s=self.opts.lease_s))
            taken = [o for o in orphans if o.key in won]
            stale = [Outcome(o.key, "skipped", "claimed by a runner that stopped before "
                             "sending; taken over past its grace", attempts=0)
                     for o in taken if (now - o.at_utc).total_seconds() > o.grace_s]
            if stale:
                self.ledger.finish(n, stale, now=now)
                s.counts["skipped"] += len(stale)
            taken = [o for o in taken if (now - o.at_utc).total_seconds() <= o.grace_s]
            if taken:
                self.log("take-over", f"took over {len(won)} claim(s) of {n} whose runner "
                         "stopped renewing its lease (never sent)", "warning", playbook=n,
                         count=len(won))
            s.already += len(orphans) - len(won)  # another runner took those
            resend.extend(taken)
        if late:
            claims = [self.claim_of(o) for o in late]
            got = self.ledger.record(n, claims, "skipped", SKIP_REASON, now=now)
            s.counts["skipped"] += got
            self.metrics.sent("skipped", "-", got)
            if got:
                self.log("skipped", f"{got} occurrence(s) of {n} missed while down (past their "
                         "grace): recorded skipped, not sent", "warning", playbook=n, count=got)
        if self.opts.resend_uncertain:
            un = [o for o in resend if known.get(o.key) == "uncertain"]
            won = set(self.ledger.reclaim_uncertain(n, [o.key for o in un], now=now,
                                                    lease_s=self.opts.lease_s))
            resend = [o for o in resend if known.get(o.key) != "uncertain" or o.key in won]
        if due or resend:
            from .burst import Burst

            s.counts.update(await Burst(self, book, due, resend).run())
        if not self.stopping:  # a stop gave claims back: the next run must look at them again
            self.ledger.set_tick(n, now)
        return s

    def claim_of(self, o: Occurrence) -> Claim:
        return Claim(o.key, o.group, o.slot, o.seq, o.at_utc, content_hash(o),
                     self.opts.channel or o.channel)
