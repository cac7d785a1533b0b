"""Local wall-clock times to UTC instants, with DST made explicit, and quiet hours.

Two rules a plan must state rather than inherit from whatever a library does:

* a local time that does not exist (the spring-forward gap) moves to the first valid
  instant after the gap: 02:30 on 2026-03-08 in New York is sent at 03:00 EDT;
* a local time that exists twice (fall back) fires once, at its first instance (fold=0):
  01:30 on 2026-11-01 in New York is 01:30 EDT, never again at 01:30 EST.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from ..playbook.model import QuietHours

_DAY = 86400


class LocalClock:
    """Converts local wall times of one timezone; each distinct wall time is converted once."""

    __slots__ = ("_cache", "tz")

    def __init__(self, tz_name: str):
        self.tz = ZoneInfo(tz_name)
        self._cache: dict[datetime, tuple[datetime, datetime, str | None]] = {}

    def resolve(self, wall: datetime) -> tuple[datetime, datetime, str | None]:
        """(UTC instant, aware local time, note) for a naive local wall time."""
        hit = self._cache.get(wall)
        if hit is None:
            hit = self._cache[wall] = self._resolve(wall)
        return hit

    def at(self, day: date, seconds: int) -> tuple[datetime, datetime, str | None]:
        """The instant ``seconds`` of wall time after local midnight of ``day`` (may exceed
        a day: 86400 + 7*3600 is 07:00 the next day)."""
        return self.resolve(datetime.combine(day, time()) + timedelta(seconds=seconds))

    def day_start(self, day: date) -> datetime:
        """UTC instant at which local ``day`` begins."""
        return self.at(day, 0)[0]

    def _resolve(self, wall: datetime) -> tuple[datetime, datetime, str | None]:
        tz = self.tz
        first = wall.replace(tzinfo=tz)  # fold=0: the earlier instance of a repeated time
        utc = first.astimezone(UTC)
        local = utc.astimezone(tz)
        if local.replace(tzinfo=None) == wall:
            second = wall.replace(tzinfo=tz, fold=1)
            if second.utcoffset() != first.utcoffset():
                return utc, local, (f"{wall:%H:%M} occurs twice (DST ends): "
                                    "sent once, at the first")
            return utc, local, None
        # In a gap: fold=0 applies the offset before the change, fold=1 the one after. The
        # change itself lies between those two readings; find it to the second.
        lo = wall.replace(tzinfo=tz, fold=1).astimezone(UTC)  # still the old offset
        hi = utc  # already the new offset
        after = hi.astimezone(tz).utcoffset()
        while (hi - lo).total_seconds() > 1:
            mid = lo + (hi - lo) / 2
            mid = mid.replace(microsecond=0)
            if mid <= lo:
                break
            if mid.astimezone(tz).utcoffset() == after:
                hi = mid
            else:
                lo = mid
        local = hi.astimezone(tz)
        return hi, local, (f"{wall:%H:%M} does not exist (DST starts): "
                           f"moved to {local:%H:%M}")


class Quiet:
    """Quiet hours as seconds of the local day; ``start > end`` crosses midnight."""

    __slots__ = ("crosses", "end", "label", "start")

    def __init__(self, qh: QuietHours):
        s, e = qh.span
        self.start = s.hour * 3600 + s.minute * 60
        self.end = e.hour * 3600 + e.minute * 60
        self.crosses = self.start > self.end
        self.label = f"{s:%H:%M}-{e:%H:%M}"

    def inside(self, t: int) -> bool:
        """Whether wall second ``t`` (from some local midnight, any day) is quiet."""
        tod = t % _DAY
        if self.crosses:
            return tod >= self.start or tod < self.end
        return self.start <= tod < self.end

    def end_after(self, t: int) -> int:
        """The end of the quiet period that contains wall second ``t``."""
        base, tod = t - t % _DAY, t % _DAY
        if self.crosses and tod >= self.start:
            return base + _DAY + self.end
        return base + self.end


def quiet_of(qh: QuietHours | None) -> Quiet | None:
    if qh is None:
        return None
    q = Quiet(qh)
    return None if q.start == q.end else q


def hhmm(seconds: int) -> str:
    """Wall seconds from a local midnight as "HH:MM" (with "+1d" past midnight)."""
    days, rest = divmod(seconds, _DAY)
    s = f"{rest // 3600:02d}:{rest % 3600 // 60:02d}"
    return s + (f"+{days}d" if days else "")
