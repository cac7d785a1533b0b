"""The runner: wakes at the plan's next instant, claims what is due, sends, records.

APScheduler is only the alarm clock (one DateTrigger at the next occurrence); the
ledger decides. Each tick first takes over what nobody holds any more — rows handed back
by a runner that stopped, claims of a runner whose lease ran out — however old (one place:
:meth:`Runner._adopt`); then it looks at the window since the last recorded tick:
occurrences still inside their grace are claimed (committed) and then sent; older ones are
recorded ``skipped`` ("missed while down"). A message whose request may have left without
its result being recorded, left by a crash, becomes ``uncertain`` and is re-sent only on
request.

Several runners may share one PostgreSQL ledger (docs/scaling.md): each computes the same
plan, the ledger's unique key gives each occurrence to one of them, leases let a survivor
take over what a dead runner had claimed but not yet begun sending, and ``--shard I/N``
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

from ..i18n import _, ngettext
from . import reasons as R
from .clock import Clock
from .ledger import Claim, Ledger, Outcome
from .metrics import EventLog, Metrics
from .planview import Book
from .reload import check_playbook, inventory_paths

if TYPE_CHECKING:
    from ..plan.types import Occurrence
    from ..playbook.model import Playbook
    from .channelset import ChannelSet

SKIP_REASON = R.MISSED


@dataclass(slots=True)
class RunOptions:
    once: bool = False
    since: datetime | None = None
    resend_uncertain: bool = False
    channel: str | None = None  # one channel for everything (e.g. console for a demo)
    dry_run: bool = False
    concurrency: int = 200  # messages in flight: first request written, result not recorded
    claim_chunk: int = 200
    reload_every_s: float = 2.0
    lease_s: float = 60.0  # renewed every lease/3 while a runner holds rows
    shard: tuple[int, int] | None = None  # (I, N), 1 <= I <= N
    state_dir: Path = field(default_factory=lambda: Path(".sopctl"))

    def __post_init__(self) -> None:
        for name in ("concurrency", "claim_chunk"):
            if getattr(self, name) < 1:
                raise ValueError(f"RunOptions.{name} must be at least 1")

    @property
    def uncertain_bound(self) -> int:
        """The most rows one crash of a runner can leave ``sending`` (hence ``uncertain``): a
        row is flipped only by a message that holds one of the dispatcher's ``concurrency``
        slots, right before its first request, and the slot is freed only once the
        message's result is committed."""
        return self.concurrency


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
        raise ValueError(_("--shard {value}: expected I/N, e.g. 2/3").format(
            value=repr(value))) from None
    if not 1 <= i <= n:
        raise ValueError(_("--shard {value}: I must be between 1 and N").format(
            value=repr(value)))
    return i, n


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
        self._burst: Any = None  # the burst being sent, told when the runner stops
        # keys a burst could not hand back (the ledger was away), by playbook: never sent
        self.unsent: dict[str, set[str]] = {}

    # ------------------------------------------------------------------ control
    def stop(self) -> None:
        """Stop claiming; what is in flight finishes (SIGTERM / SIGINT)."""
        if not self.stopping:
            self.log("stop", _("stopping: no new claims, finishing messages in flight"))
        self.stopping = True
        if self._burst is not None:
            self._burst.stop()
        if self._wake is not None:
            self._wake.set()

    async def run_once(self) -> Summary:
        return await self.tick(self.clock.now())

    async def run_forever(self) -> Summary:
        """Tick, sleep until the plan's next instant (or a reload check), repeat."""
        from apscheduler.schedulers.background import BackgroundScheduler
        from apscheduler.triggers.date import DateTrigger
        from sqlalchemy.exc import DBAPIError

        from ..i18n.thirdparty import db_reason

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
                    self.log("ledger-error", _("ledger unavailable ({why}); no claims for {s} s")
                             .format(why=db_reason(exc), s=f"{backoff:.0f}"), "error")
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
        """True when another runner's lease has run out or a row was handed back (rows to
        take over or judge)."""
        t = time.monotonic()
        if t < self._next_lease_check:
            return False
        self._next_lease_check = t + min(5.0, self.opts.lease_s / 3)
        try:
            exp = self.ledger.next_expiry([b.name for b in self.books])
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
                self.log("reload-rejected", _("{path} changed but has errors; the previous "
                                              "version keeps running").format(path=book.path),
                         "error",
                         findings=[f.short() for f in checked.errors])
                for f in checked.errors:
                    self.log("finding", f.short(), "error")
                continue
            if not self._refresh_channels(book, checked.playbook):
                continue
            book.adopt(checked.playbook)
            book.watcher.set_extra(inventory_paths(book.path, checked.playbook))
            self.metrics.reloads["ok"] += 1
            self.log("reload", _("{path} reloaded: the new plan applies from now").format(
                path=book.path))
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
            self.log("reload-rejected", _("{path} changed but its channels cannot be built "
                                          "({why}); the previous version keeps running")
                     .format(path=book.path, why=why), "error")
            return False
        if rebuilt:
            self.log("channels", ngettext("{path}: channel {names} built from the new version",
                                          "{path}: channels {names} built from the new version",
                                          len(rebuilt)).format(path=book.path,
                                                               names=", ".join(rebuilt)),
                     playbook=book.name, channels=rebuilt)
        return True

    def _recover(self) -> None:
        n = self.ledger.recover(now=self.clock.now())
        if n:
            self.log("uncertain", ngettext(
                "{n} message was claimed by a runner that stopped before recording the "
                "result: marked uncertain (see `sopctl history --uncertain`; "
                "--resend-uncertain sends it again)",
                "{n} messages were claimed by a runner that stopped before recording the "
                "result: marked uncertain (see `sopctl history --uncertain`; "
                "--resend-uncertain sends them again)", n).format(n=n), "warning", count=n)

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
        n = book.name
        start = (self.opts.since if self._first and self.opts.since is not None
                 else self.ledger.last_tick(n) or now - timedelta(seconds=book.max_grace_s))
        if self.opts.dry_run:
            occs = [o for o in book.plan.window(start, now) if self._mine(o.group)]
            known = self.ledger.statuses(n, [o.key for o in occs])
            s.dry.extend((n, o) for o in occs if o.key not in known
                         and (now - o.at_utc).total_seconds() <= o.grace_s)
            return s
        adopted, mine = self._adopt(book, now, s)
        if self.opts.resend_uncertain:  # uncertain rows may predate the last tick
            start = min(start, now - timedelta(seconds=book.max_grace_s))
        occs = [o for o in book.plan.window(start, now) if self._mine(o.group)]
        known = self.ledger.statuses(n, [o.key for o in occs]) if occs else {}
        due, late, resend = [], [], []
        for o in occs:
            st = known.get(o.key)
            in_grace = (now - o.at_utc).total_seconds() <= o.grace_s
            if st is None:
                (due if in_grace else late).append(o)
            elif st == "uncertain" and self.opts.resend_uncertain and in_grace:
                resend.append(o)
            elif o.key not in mine:
                s.already += 1
        if late:
            got = self.ledger.record(n, [self.claim_of(o) for o in late], "skipped",
                                     SKIP_REASON, now=now)
            s.counts["skipped"] += got
            self.metrics.sent("skipped", "-", got)
            if got:
                self.log("skipped", ngettext(
                    "{n} occurrence of {playbook} missed while down (past its grace): "
                    "recorded skipped, not sent",
                    "{n} occurrences of {playbook} missed while down (past their grace): "
                    "recorded skipped, not sent", got).format(n=got, playbook=n),
                         "warning", playbook=n, count=got)
        if resend:
            won = set(self.ledger.reclaim_uncertain(n, [o.key for o in resend], now=now,
                                                    lease_s=self.opts.lease_s))
            s.already += len(resend) - len(won)
            resend = [o for o in resend if o.key in won]
        if due or adopted or resend:
            from .burst import Burst

            self._burst = burst = Burst(self, book, due, adopted + resend)
            try:
                s.counts.update(await burst.run())
            finally:
                self._burst = None
        if not self.stopping:  # a stop left some of the window unclaimed: look at it again
            self.ledger.set_tick(n, now)
        return s

    def _adopt(self, book: Book, now: datetime, s: Summary) -> tuple[list[Occurrence],
                                                                        set[str]]:
        """The one place that keeps the promise for rows nobody holds any more.

        Every occurrence that came due has a row, and rows are never deleted; a row that
        was claimed and never sent and that nobody holds — handed back by a runner that
        stopped (``released``), or ``claimed`` by one whose lease ran out or whose process
        is gone — is taken over here, by the first tick of any runner that covers its
        group, however long ago it was due and whatever the last tick says. Returns those
        still inside their grace (to send); the others are recorded ``skipped`` with the
        reason, as are handed-back rows the playbook no longer has. Also returns every key
        taken over."""
        n = book.name
        if self.unsent.get(n):  # a previous burst could not hand these back (never sent)
            self.ledger.release(n, sorted(self.unsent[n]), now=now)
            del self.unsent[n]
        rows = [r for r in self.ledger.abandoned(n, now=now) if self._mine(r["group_id"])]
        if not rows:
            return [], set()
        occ: dict[str, Occurrence] = {}
        for t in {r["scheduled_utc"] for r in rows}:
            occ.update((o.key, o) for o in book.plan.window(t, t))
        # a claimed row the plan does not know is not the runner's (the event receiver's,
        # say): left to its writer; a handed-back one is, and the playbook dropped it
        take = [r["key"] for r in rows if r["key"] in occ or r["status"] == "released"]
        won = set(self.ledger.take_over(n, take, now=now, lease_s=self.opts.lease_s))
        if not won:
            return [], won
        out: list[Occurrence] = []
        stale: list[Outcome] = []
        for k in sorted(won):
            o = occ.get(k)
            if o is None:
                stale.append(Outcome(k, "skipped", R.STALE_GONE, attempts=0))
            elif (now - o.at_utc).total_seconds() > o.grace_s:
                stale.append(Outcome(k, "skipped", R.STALE_PAST_GRACE, attempts=0))
            else:
                out.append(o)
        if stale:
            self.ledger.finish(n, stale, now=now)
            s.counts["skipped"] += len(stale)
            self.metrics.sent("skipped", "-", len(stale))
        self.log("take-over", ngettext(
            "took over {n} message of {playbook} that its runner handed back or stopped "
            "renewing (never sent)",
            "took over {n} messages of {playbook} that their runners handed back or stopped "
            "renewing (never sent)", len(won)).format(n=len(won), playbook=n),
                 "warning", playbook=n, count=len(won))
        return out, won

    def claim_of(self, o: Occurrence) -> Claim:
        return Claim(o.key, o.group, o.slot, o.seq, o.at_utc, content_hash(o),
                     self.opts.channel or o.channel)
