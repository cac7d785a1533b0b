"""One playbook as the runner holds it (:class:`Book`), and its plan as the runner reads it
(:class:`PlanView`: a UTC day at a time, two days kept)."""

from __future__ import annotations

import bisect
from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from .reload import Checked, Watcher, inventory_paths

if TYPE_CHECKING:
    from ..plan.types import Occurrence
    from ..playbook.model import Playbook

_DAY = timedelta(days=1)


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
