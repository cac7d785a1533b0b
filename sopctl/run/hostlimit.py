"""Rate limits shared by every sopctl process on the host (the semantics are ``ratelimit``'s).

Each process used to keep its own :class:`~sopctl.run.ratelimit.RateLimiter`, so two
runners (or a runner and ``serve``) posting to one robot together exceeded its quota, and a
restarted runner forgot what it had just sent. :class:`HostRateLimiter` keeps the same
state per endpoint in a store every process opens (``hoststore``: small files under
``flock``, or SQLite in WAL mode): per endpoint, when its recent requests *completed*, the
requests in flight (by process) and the penalty deadline. Times are the host's monotonic
clock (``CLOCK_MONOTONIC``, one for every process on the host), so they compare across
processes; a store written before a reboot is dropped (the boot id says so).

Same rules as the in-memory limiter: at most N requests to a key in any window of its
period, a token comes back one period after its request completed, ``penalize`` blocks the
key for every process. Requests in flight elsewhere count as busy tokens; one whose process
died counts as completed when that is noticed, and none is believed in flight for longer
than ``MAX_FLIGHT_S``. One difference: windows are per key, not per (key, count, period), so
two channels on one robot with different ``rate_per_minute`` both count every request the
robot got (the stricter reading of "at most N requests to this endpoint").
"""

from __future__ import annotations

import asyncio
import atexit
import bisect
import contextlib
import itertools
import logging
import math
import os
import sqlite3
import weakref
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from .clock import Clock, SystemClock
from .hoststore import FileStore, SqliteStore, Store, hash_key, owner, prune
from .ratelimit import DeadlineExceeded, Lease, Limit, RateLimiter, Slots

log = logging.getLogger("sopctl.run")

ENV = "SOPCTL_RATE_STATE"  # a directory (FileStore), a *.db file (SQLite), or "off"
POLL_S = 0.05  # how often to look again while every token is in flight in another process
FLUSH_S = 0.01  # how soon an ended lease is written when nothing else is
STORE_ERRORS = (OSError, sqlite3.Error)

_LIVE: weakref.WeakSet[HostRateLimiter] = weakref.WeakSet()


@atexit.register
def _flush_all() -> None:
    """Leases ended but not yet written go out with the process (a kill leaves them to
    the others' reaping: completed when they notice)."""
    for lim in list(_LIVE):
        with contextlib.suppress(Exception):
            lim.flush()


def _wait(rec: dict[str, Any], lims: Sequence[Limit], now: float) -> float:
    """Seconds until every window of ``lims`` has a token (inf: all in flight)."""
    d, busy = rec.get("d", []), len(rec.get("f", ()))
    wait = rec.get("u", 0.0) - now
    for lim in lims:
        i = bisect.bisect_right(d, now - lim.period)  # completions this window still sees
        if len(d) - i + busy >= lim.count:
            wait = max(wait, d[i] + lim.period - now if i < len(d) else math.inf)
    return wait


class HostLease:
    __slots__ = ("_hkeys", "_id", "_limiter", "done")

    def __init__(self, limiter: HostRateLimiter, lid: str, hkeys: list[str]) -> None:
        self._limiter, self._id, self._hkeys, self.done = limiter, lid, hkeys, False

    def release(self) -> None:
        """The request completed: its tokens come back one window from now."""
        self._end(True)

    def cancel(self) -> None:
        """No request was made with these tokens: they are free again at once."""
        self._end(False)

    def _end(self, completed: bool) -> None:
        if self.done or not self._hkeys:
            self.done = True
            return
        self.done = True
        self._limiter._finish(self._id, self._hkeys, completed)


class HostRateLimiter:
    """The drop-in for :class:`RateLimiter` whose state every process on the host shares
    (``acquire``, ``penalize``, ``waited``). One instance per event loop; several instances
    (threads, processes) coordinate through ``store``."""

    def __init__(self, store: Store, clock: Clock | None = None) -> None:
        self.clock = clock or SystemClock()
        self.store = store
        self.waited = 0.0  # total seconds spent waiting for tokens (for `sopctl status`)
        self._seq = itertools.count()
        self._released: dict[str, asyncio.Event] = {}  # wakes this instance's waiters
        self._ended: list[tuple[str, list[str], float | None]] = []  # not yet written
        self._flusher: asyncio.TimerHandle | None = None
        self._own: RateLimiter | None = None  # once the store broke
        _LIVE.add(self)

    def _broke(self, exc: Exception) -> RateLimiter:
        """The store failed (a full disk, permissions changed): this process's own limiter
        from now on, said once in the log; sending goes on."""
        if self._own is None:
            from ..i18n import _

            log.warning(_("rate limits are this process's own: cannot open {path}: {why}")
                        .format(path=self.store.where, why=exc))
            self._own = RateLimiter(self.clock)
            self._ended.clear()
        return self._own

    def penalize(self, key: str, seconds: float) -> None:
        if self._own is not None:
            return self._own.penalize(key, seconds)
        hk = hash_key(key)
        now = self.clock.monotonic()
        try:
            with self.store.locked(self._keys([hk]), now) as recs:
                self._apply(recs)
                rec = recs[hk]
                rec["u"] = max(rec.get("u", 0.0), now + seconds)
        except STORE_ERRORS as exc:
            self._broke(exc).penalize(key, seconds)

    def _keys(self, hkeys: Iterable[str]) -> list[str]:
        return sorted({*hkeys, *(hk for _, hks, _ in self._ended for hk in hks)})

    def _apply(self, recs: dict[str, dict[str, Any]]) -> None:
        """Write the leases that ended since the last look (inside a locked look)."""
        if self._flusher is not None:
            self._flusher.cancel()
            self._flusher = None
        for lid, hkeys, done in self._ended:
            for hk in hkeys:
                rec = recs[hk]
                if rec.get("f", {}).pop(lid, None) is not None and done is not None:
                    bisect.insort(rec.setdefault("d", []), done)
        self._ended.clear()

    def _try(self, by_key: Mapping[str, list[Limit]], lid: str, take: bool) -> float:
        """One look at the shared state; with ``take`` and no wait, the tokens are ours."""
        now = self.clock.monotonic()
        with self.store.locked(self._keys(by_key), now) as recs:
            self._apply(recs)
            wait = 0.0
            for hk, lims in by_key.items():
                rec = recs[hk]
                prune(rec, now)
                rec["k"] = max(rec.get("k", 0.0), *(lim.period for lim in lims))
                wait = max(wait, _wait(rec, lims, now))
            if wait <= 0 and take:
                for hk in by_key:
                    recs[hk].setdefault("f", {})[lid] = [owner(), now]
            return wait

    def _finish(self, lid: str, hkeys: list[str], completed: bool) -> None:
        """A lease ended (completed: now). It is written with this instance's next look,
        or FLUSH_S from now: till then the others take it for still in flight, which only
        makes them wait a little longer. A burst thus pays one look per message, not two."""
        self._ended.append((lid, hkeys, self.clock.monotonic() if completed else None))
        for hk in hkeys:
            ev = self._released.pop(hk, None)
            if ev is not None:
                ev.set()
        if self._flusher is None:
            try:
                loop = asyncio.get_running_loop()
            except RuntimeError:
                self.flush()
                return
            self._flusher = loop.call_later(FLUSH_S, self.flush)

    def flush(self) -> None:
        """Write the ended leases now."""
        if self._ended and self._own is None:
            try:
                with self.store.locked(self._keys(()), self.clock.monotonic()) as recs:
                    self._apply(recs)
            except STORE_ERRORS as exc:
                self._broke(exc)

    async def acquire(self, limits: Sequence[Limit], deadline: float | None = None,
                      slots: Slots | None = None) -> HostLease | Lease:
        """Tokens of every window of ``limits`` (and one of ``slots``, when given, taken in
        the same step); raises DeadlineExceeded when the wait would pass ``deadline``."""
        by_key: dict[str, list[Limit]] = {}
        for lim in limits:
            by_key.setdefault(hash_key(lim.key), []).append(lim)
        by_key = dict(sorted(by_key.items()))
        lid = f"{owner()}:{id(self):x}:{next(self._seq)}"
        while True:
            if self._own is not None:
                return await self._own.acquire(limits, deadline, slots)
            free = slots is None or slots.free
            try:
                wait = self._try(by_key, lid, free) if by_key else 0.0
            except STORE_ERRORS as exc:
                self._broke(exc)
                continue
            if wait <= 0:
                if not free:
                    await slots.wait()  # type: ignore[union-attr]
                    continue
                if slots is not None:
                    slots.take()
                return HostLease(self, lid, list(by_key))
            if slots is not None:
                slots.nudge()  # a slot this waiter cannot use yet goes to another
            now = self.clock.monotonic()
            if deadline is not None and wait != math.inf and now + wait > deadline:
                raise DeadlineExceeded(wait)
            if wait == math.inf:  # every token in flight: ours wake us, others' are polled
                ev = asyncio.Event()
                for hk in by_key:
                    ev = self._released.setdefault(hk, ev)
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(ev.wait(), POLL_S)
            else:
                self.waited += wait
                await self.clock.sleep(wait)


def open_store(where: str | Path) -> Store:
    """The store at ``where``: a ``*.db`` file is SQLite, anything else a directory."""
    p = Path(where)
    return SqliteStore(p) if p.suffix == ".db" else FileStore(p)


def host_limiter(state_dir: Path, clock: Clock | None = None,
                 env: Mapping[str, str] | None = None) -> RateLimiter | HostRateLimiter:
    """The limiter for ``sopctl run`` and ``serve``: shared with every process using the
    same state (``$SOPCTL_RATE_STATE``, else ``<state_dir>/ratelimit``), or this process's
    own when that is ``off`` or cannot be opened (with a warning)."""
    from ..i18n import _

    env = os.environ if env is None else env
    where = env.get(ENV, "").strip()
    if where.lower() in ("off", "process", "0", "no"):
        return RateLimiter(clock)
    path = Path(where) if where else Path(state_dir) / "ratelimit"
    try:
        store = open_store(path)
        store.check()
    except Exception as exc:  # OSError, sqlite3.Error: sending must still go on
        log.warning(_("rate limits are this process's own: cannot open {path}: {why}")
                    .format(path=path, why=exc))
        return RateLimiter(clock)
    return HostRateLimiter(store, clock)


def host_context(state_dir: Path, env: Mapping[str, str] | None = None) -> Any:
    """A DeliveryContext (system clock) whose limiter is :func:`host_limiter`'s."""
    from .delivery import DeliveryContext

    clock = SystemClock()
    return DeliveryContext(clock=clock, limiter=host_limiter(state_dir, clock, env))
