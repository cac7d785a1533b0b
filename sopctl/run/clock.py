"""Time for the runner and its channels, injectable so tests never wait for real minutes.

One ``Clock`` serves both sides: the runner asks it for "now" (aware UTC) and when that is on
the wall; the delivery loop asks it for ``time()`` (signatures), ``monotonic()`` (rate
windows, deadlines) and to ``sleep``. ``SystemClock`` is the real one, optionally shifted so
that "now" starts at a given instant (``SOPCTL_NOW``, used by end-to-end tests and demos that
must see a 07:30 slot come due); ``FakeClock`` only moves when told to (or when slept on).
"""

from __future__ import annotations

import asyncio
import os
import time
from datetime import UTC, datetime, timedelta
from typing import Protocol


class Clock(Protocol):
    def now(self) -> datetime:
        """The current instant, aware, in UTC."""
        ...

    def to_wall(self, t: datetime) -> datetime:
        """The real wall-clock instant at which this clock will read ``t``."""
        ...

    def time(self) -> float:
        """Epoch seconds (request signatures, timestamps written out)."""
        ...

    def monotonic(self) -> float:
        """Seconds that never go back (rate windows and deadlines)."""
        ...

    async def sleep(self, seconds: float) -> None: ...


class SystemClock:
    """The wall clock, shifted by ``offset`` (zero unless a start instant is given)."""

    def __init__(self, start: datetime | None = None):
        self.offset = (start - datetime.now(UTC)) if start is not None else timedelta(0)

    def now(self) -> datetime:
        return datetime.now(UTC) + self.offset

    def to_wall(self, t: datetime) -> datetime:
        return t - self.offset

    def time(self) -> float:
        return time.time()  # signatures must carry the real time, whatever "now" reads

    def monotonic(self) -> float:
        return time.monotonic()

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(max(0.0, seconds))


class FakeClock:
    """A clock that stands still until ``advance``/``set`` (sleeping advances it)."""

    def __init__(self, start: datetime):
        if start.tzinfo is None:
            raise ValueError("FakeClock needs an aware datetime")
        self._now = start.astimezone(UTC)
        self._t0 = self._now

    def now(self) -> datetime:
        return self._now

    def to_wall(self, t: datetime) -> datetime:
        return datetime.now(UTC) + (t - self._now)

    def time(self) -> float:
        return self._now.timestamp()

    def monotonic(self) -> float:
        return (self._now - self._t0).total_seconds()

    def set(self, t: datetime) -> None:
        self._now = t.astimezone(UTC)

    def advance(self, seconds: float = 0, **kw: float) -> datetime:
        self._now += timedelta(seconds=seconds, **kw)
        return self._now

    async def sleep(self, seconds: float) -> None:
        self._now += timedelta(seconds=max(0.0, seconds))
        await asyncio.sleep(0)


def default_clock() -> Clock:
    """The wall clock, or one starting at ``$SOPCTL_NOW`` (ISO 8601) when that is set."""
    start = os.environ.get("SOPCTL_NOW")
    if not start:
        return SystemClock()
    t = datetime.fromisoformat(start)
    if t.tzinfo is None:
        t = t.replace(tzinfo=UTC)
    return SystemClock(t)
