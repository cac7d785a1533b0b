"""The plan's public API: what is sent when, to which group, through which channel.

``build_plan`` is the single truth shared by `agenda`, `simulate` and `run`. It is a pure
function of (playbook, groups, window): the same inputs give the same occurrences, with
the same keys, in the same order. Semantics are documented in docs/plan.md.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime, time, timedelta
from operator import attrgetter

from ..playbook.model import Group, Playbook
from .groups import group_channel, next_group, playbook_groups
from .planner import Dropped, Planner
from .types import Occurrence

__all__ = ["PlanResult", "build_plan", "build_plan_detailed", "group_channel", "iter_plan",
           "next_group", "next_occurrence_after"]

_AT = attrgetter("at_utc")
_ORDER = attrgetter("at_utc", "group", "slot", "seq")
_DAY = 86400
_MARGIN = 4 * 3600  # wall time vs. elapsed time: DST shifts are at most a few hours


@dataclass(slots=True)
class PlanResult:
    """Occurrences in order, and what caps or quiet hours removed (with the reason)."""

    occurrences: list[Occurrence] = field(default_factory=list)
    dropped: list[Dropped] = field(default_factory=list)


def _aware(dt: datetime, name: str) -> datetime:
    if dt.tzinfo is None or dt.utcoffset() is None:
        raise ValueError(f"{name} must be timezone-aware (got {dt.isoformat()})")
    return dt


def iter_plan(playbook: Playbook, start: datetime, end: datetime, *,
              groups: Sequence[Group] | None = None,
              dropped: list[Dropped] | None = None) -> Iterator[Occurrence]:
    """Occurrences with ``start <= at_utc < end`` in plan order, computed a local day at a
    time (memory stays at about one day's worth). Pass a list as ``dropped`` to collect
    what caps and quiet hours removed inside the window."""
    _aware(start, "start")
    _aware(end, "end")
    if end <= start:
        return
    gs = playbook_groups(playbook) if groups is None else list(groups)
    planner = Planner(playbook, gs)
    tz = planner.clock.tz
    # A day's occurrences may land later than the day itself (deferral to the end of quiet
    # hours, long sequences): start planning early enough to see them.
    lookback = 1 + -(-planner.max_span_s // _DAY)
    day = start.astimezone(tz).date() - timedelta(days=lookback)
    last = (end - timedelta(microseconds=1)).astimezone(tz).date()
    pending: list[Occurrence] = []
    start_local = start.astimezone(tz).replace(tzinfo=None)
    end_local = end.astimezone(tz).replace(tzinfo=None)
    while day <= last:
        midnight = datetime.combine(day, time())
        occs, drops = planner.day(day, (start_local - midnight).total_seconds() - _MARGIN,
                                  (end_local - midnight).total_seconds() + _MARGIN)
        if dropped is not None:
            dropped.extend(x for x in drops if start <= x[0].at_utc < end)
        pending.extend(o for o in occs if start <= o.at_utc < end)
        day += timedelta(days=1)
        # Later days never plan anything before their own local midnight.
        boundary = planner.clock.day_start(day)
        pending.sort(key=_ORDER)
        cut = bisect_left(pending, boundary, key=_AT)
        if cut:
            yield from pending[:cut]
            del pending[:cut]
    yield from pending


def build_plan_detailed(playbook: Playbook, start: datetime, end: datetime, *,
                        groups: Sequence[Group] | None = None) -> PlanResult:
    """Like ``build_plan``, with the occurrences caps and quiet hours dropped."""
    res = PlanResult()
    res.occurrences = list(iter_plan(playbook, start, end, groups=groups, dropped=res.dropped))
    res.dropped.sort(key=lambda x: _ORDER(x[0]))
    return res


def build_plan(playbook: Playbook, start: datetime, end: datetime, *,
               groups: Sequence[Group] | None = None) -> list[Occurrence]:
    """Every occurrence with ``start <= at_utc < end`` (aware datetimes, any timezone),
    sorted by (at_utc, group, slot, seq). ``groups`` defaults to the playbook's."""
    return list(iter_plan(playbook, start, end, groups=groups))


def next_occurrence_after(playbook: Playbook, after: datetime, *,
                          groups: Sequence[Group] | None = None,
                          horizon_days: int = 8) -> datetime | None:
    """The UTC instant of the first occurrence strictly after ``after``, looking at most
    ``horizon_days`` ahead; None when nothing is planned in that horizon."""
    _aware(after, "after")
    for occ in iter_plan(playbook, after, after + timedelta(days=horizon_days), groups=groups):
        if occ.at_utc > after:
            return occ.at_utc
    return None
