"""Rate limits: at most N requests to an endpoint in any window of its platform's length.

Tokens come back one window *after the request completed*, not after it started: the
platform received it before that, so no window of the platform's length ever sees more
than its quota, whatever the latency. ``penalize`` blocks an endpoint for every sender at
once (a Retry-After, DingTalk's ten-minute lockout). The clock is injected, so tests run
minutes of platform time in milliseconds.
"""

from __future__ import annotations

import asyncio
import math
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass

from .clock import Clock, SystemClock

# ----------------------------------------------------------------------------- rate limits

@dataclass(frozen=True, slots=True)
class Limit:
    """At most ``count`` requests to ``key`` in any ``period`` seconds."""

    key: str
    count: int
    period: float


class DeadlineExceeded(Exception):
    pass


class Slots:
    """A count of messages in flight that :meth:`RateLimiter.acquire` takes together with a
    message's first tokens, or not at all: nothing waits for a slot while holding a token,
    so a throttled endpoint never keeps a slot from the others (and nothing deadlocks).
    Waiters queue first come, first served; a freed slot wakes one of them, not all."""

    __slots__ = ("_waiters", "size", "used")

    def __init__(self, size: int) -> None:
        self.size, self.used = max(1, size), 0
        self._waiters: deque[asyncio.Future[None]] = deque()

    @property
    def free(self) -> bool:
        return self.used < self.size

    def take(self) -> None:
        self.used += 1

    def give(self) -> None:
        self.used -= 1
        self.nudge()

    def nudge(self) -> None:
        """Wake the next waiter if a slot is free (one that was woken but will not take
        it passes the turn on this way)."""
        while self.free and self._waiters:
            f = self._waiters.popleft()
            if not f.done():
                f.set_result(None)
                return

    async def wait(self) -> None:
        """Until a slot may be free (then look again: a newcomer may have taken it)."""
        f: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiters.append(f)
        try:
            await f
        except asyncio.CancelledError:
            if f.done() and not f.cancelled():
                self.nudge()  # woken, then cancelled: the turn goes to the next
            raise

    async def acquire(self) -> None:
        while not self.free:
            await self.wait()
        self.take()


class _Window:
    __slots__ = ("busy", "count", "period", "returns")

    def __init__(self, count: int, period: float) -> None:
        self.count, self.period, self.busy = count, period, 0
        self.returns: deque[float] = deque()  # when spent tokens come back, sorted

    def wait(self, now: float) -> float:
        while self.returns and self.returns[0] <= now:
            self.returns.popleft()
        if self.busy + len(self.returns) < self.count:
            return 0.0
        return self.returns[0] - now if self.returns else math.inf


class _Endpoint:
    __slots__ = ("blocked_until", "released", "windows")

    def __init__(self) -> None:
        self.windows: dict[tuple[int, float], _Window] = {}
        self.blocked_until = 0.0
        self.released = asyncio.Event()


class Lease:
    __slots__ = ("_limiter", "_windows", "done")

    def __init__(self, limiter: RateLimiter, windows: list[tuple[_Endpoint, _Window]]) -> None:
        self._limiter, self._windows, self.done = limiter, windows, False

    def release(self) -> None:
        """The request completed: its tokens come back one window from now."""
        self._end(self._limiter.clock.monotonic())

    def cancel(self) -> None:
        """No request was made with these tokens: they are free again at once."""
        self._end(None)

    def _end(self, now: float | None) -> None:
        if self.done:
            return
        self.done = True
        for ep, w in self._windows:
            w.busy -= 1
            if now is not None:
                w.returns.append(now + w.period)
            ep.released.set()
            ep.released = asyncio.Event()


class RateLimiter:
    """Token buckets per endpoint whose tokens come back one window *after the request
    completed*: the server received it before that, so no window of the platform's length
    ever sees more than its quota, whatever the latency. ``penalize`` blocks an endpoint
    (a Retry-After, DingTalk's 10-minute lockout) for every sender at once."""

    def __init__(self, clock: Clock | None = None) -> None:
        self.clock = clock or SystemClock()
        self._eps: dict[str, _Endpoint] = {}
        self.waited = 0.0  # total seconds spent waiting for tokens (for `sopctl status`)

    def _ep(self, key: str) -> _Endpoint:
        ep = self._eps.get(key)
        if ep is None:
            ep = self._eps[key] = _Endpoint()
        return ep

    def penalize(self, key: str, seconds: float) -> None:
        ep = self._ep(key)
        ep.blocked_until = max(ep.blocked_until, self.clock.monotonic() + seconds)

    async def acquire(self, limits: Sequence[Limit], deadline: float | None = None,
                      slots: Slots | None = None) -> Lease:
        """Tokens of every window of ``limits`` (and one of ``slots``, when given, taken in
        the same step); raises DeadlineExceeded when the wait would pass ``deadline``."""
        pairs = []
        for lim in limits:
            ep = self._ep(lim.key)
            w = ep.windows.get((lim.count, lim.period))
            if w is None:
                w = ep.windows[(lim.count, lim.period)] = _Window(lim.count, lim.period)
            pairs.append((ep, w))
        while True:
            now = self.clock.monotonic()
            wait, busy_ep = 0.0, None
            for ep, w in pairs:
                ww = max(w.wait(now), ep.blocked_until - now)
                if ww == math.inf:
                    busy_ep = ep
                wait = max(wait, ww)
            if wait <= 0:
                if slots is not None and not slots.free:
                    await slots.wait()
                    continue
                for _, w in pairs:
                    w.busy += 1
                if slots is not None:
                    slots.take()
                return Lease(self, pairs)
            if slots is not None:
                slots.nudge()  # a slot this waiter cannot use yet goes to another
            if deadline is not None and wait != math.inf and now + wait > deadline:
                raise DeadlineExceeded(wait)
            if busy_ep is not None:  # every token is in flight: wait for one to finish
                await busy_ep.released.wait()
            else:
                self.waited += wait
                await self.clock.sleep(wait)
