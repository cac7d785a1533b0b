"""What operations reach a group on each simulated day, taken from the plan.

The forecast shows exactly what would be sent: operations come from ``build_plan``. The
plan is per group, but two groups run by the same timetable differ only by their opening
date, so one representative group per distinct opening date is planned and reused.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass
from datetime import date, timedelta
from functools import lru_cache
from math import lcm
from typing import TYPE_CHECKING

import numpy as np

from ..playbook.model import Group, Playbook
from .params import SALE_KINDS, kind_weight

if TYPE_CHECKING:
    from ..plan.cron import CronSpec


@dataclass(slots=True)
class DayOps:
    """Per simulated day, for a group opened on one date."""

    units: np.ndarray  # stimulus units (kind weights summed)
    posts: np.ndarray  # operations posted to the group (a sequence counts once)
    sent: np.ndarray  # every message sent (group posts, 1:1 mass messages, Moments)
    sale: np.ndarray  # int8: the day's strongest sale post, params.SALE_KINDS (0: none)
    dropped: np.ndarray  # occurrences the plan's caps or quiet hours dropped


def _empty(days: int) -> DayOps:
    return DayOps(np.zeros(days), np.zeros(days, np.int64), np.zeros(days, np.int64),
                  np.zeros(days, np.int8), np.zeros(days, np.int64))


def _target_weight(target: str, p: dict[str, float]) -> float:
    if target == "members":
        return p["target_members_weight"]
    if target == "moments":
        return p["target_moments_weight"]
    return 1.0


def plan_ops(playbook: Playbook, opened: date, start: date, days: int,
             p: dict[str, float], until: date | None = None) -> DayOps:
    """Operations on days ``start .. start+days-1`` for a group opened on ``opened``
    (planned only before ``until`` when given; later days stay empty)."""
    first = max(start, opened)
    if first > start + timedelta(days=days - 1):
        return _empty(days)
    end = start + timedelta(days=days)
    if until is not None:
        end = min(end, until)
    rep = Group(id="sim", name="sim", number=1, opened=opened)
    return _tally(playbook, [rep], [start], first, end, days, p)[0]


def plan_ops_from_opening(playbook: Playbook, openings: list[date], days: int,
                          p: dict[str, float]) -> list[DayOps]:
    """``plan_ops(playbook, d, d, days, p)`` for each opening date ``d``, in one call to
    the planner (its per-day work is shared). Each representative has its own owner, so
    a limit per staff account (Moments) stays per group, as in separate plans."""
    reps = [Group(id=f"sim{i}", name="sim", number=1, opened=d, owner=f"sim{i}")
            for i, d in enumerate(openings)]
    return _tally(playbook, reps, openings, min(openings),
                  max(openings) + timedelta(days=days), days, p)


def _tally(playbook: Playbook, reps: list[Group], starts: list[date], first: date, end: date,
           days: int, p: dict[str, float]) -> list[DayOps]:
    """Per representative, its occurrences in ``first .. end`` counted by day from its
    start."""
    out = {g.id: (_empty(days), s) for g, s in zip(reps, starts, strict=True)}
    gone: list = []
    for occ in _occurrences(playbook, reps, first, end, gone):
        ops, start = out[occ.group]
        i = (occ.local.date() - start).days
        if not 0 <= i < days:
            continue
        # A sequence is one operation: its later messages add posts, not stimulus.
        if occ.seq == 0:
            ops.units[i] += kind_weight(occ.kind) * _target_weight(occ.target, p)
            if occ.target == "group":
                ops.posts[i] += 1
        ops.sent[i] += 1
        if occ.kind in SALE_KINDS:
            ops.sale[i] = max(ops.sale[i], SALE_KINDS[occ.kind])
    for occ in gone:
        ops, start = out[occ.group]
        i = (occ.local.date() - start).days
        if 0 <= i < days:
            ops.dropped[i] += 1
    return [ops for ops, _ in out.values()]


def _occurrences(playbook: Playbook, groups: list[Group], first: date, end: date,
                 dropped: list) -> list:
    from datetime import datetime, time
    from zoneinfo import ZoneInfo

    from ..plan.build import build_plan_detailed

    tz = ZoneInfo(playbook.timezone)
    res = build_plan_detailed(playbook, datetime.combine(first, time(), tz),
                              datetime.combine(end, time(), tz), groups=groups)
    dropped.extend(d[0] for d in res.dropped)
    # Welcomes and replies react to members; the model counts them apart.
    return [o for o in res.occurrences if not o.slot.startswith(("welcome", "reply:"))]


class OpsBook:
    """Plans computed once per distinct opening date, and shared where they must agree.

    A slot depends on the date only through weekdays, unless it uses ``dates`` or a
    ``cron`` that restricts the day of month or the month. Without such slots, two groups
    opened on the same weekday get the same operations on the same day of their life, and
    one plan per opening weekday, indexed by life day, serves every group. Otherwise a slot
    depends on the life day only through bounded ranges (``life_days``, course length,
    phases) and ``every_days``: past the largest bound, two groups whose life days differ
    by a multiple of the period get the same operations on the same date, so a later group
    plans only its first ``horizon`` days and takes the
    rest from an earlier group of its residue class.
    """

    def __init__(self, playbook: Playbook, start: date, days: int, p: dict[str, float]):
        self.playbook, self.start, self.days, self.p = playbook, start, days, p
        self._by_open: dict[date, DayOps] = {}
        self._base: dict[int, tuple[date, DayOps]] = {}
        self._life: dict[int, DayOps] = {}  # _weekly's padded series by opening weekday
        self.horizon, self.period = _life_structure(playbook)
        self.weekly = not any(s.dates or (s.cron_spec is not None
                                          and not _weekday_cron(s.cron_spec))
                              for s in playbook.timetable)

    def get(self, opened: date) -> DayOps:
        ops = self._by_open.get(opened)
        if ops is None:
            ops = self._by_open[opened] = (self._weekly(opened) if self.weekly
                                           else self._periodic(opened))
        return ops

    def _weekly(self, opened: date) -> DayOps:
        """Views into one series per opening weekday, indexed by life day and preceded by
        ``days`` empty days: a group opened ``d`` days before the start reads from life
        day ``d + 1`` on, a later one begins with its days before opening."""
        end = self.start + timedelta(days=self.days)
        key = opened.weekday()
        if opened >= end:
            return _empty(self.days)
        H, Q = self.horizon, (lcm(self.period, 7) if self.period else None)
        back = (self.start - opened).days  # life day of the first simulated day, minus 1
        need = self.days + back  # life days up to the last simulated day
        base = self._base.get(key)
        if base is None and Q is not None and self._base and self.days >= 28:
            # a second weekday in a long forecast: the others will follow, plan them at once
            todo = [d for d in (opened + timedelta(days=k) for k in range(7))
                    if d.weekday() not in self._base]
            for d, ops in zip(todo, plan_ops_from_opening(self.playbook, todo, H + Q, self.p),
                              strict=True):
                self._base[d.weekday()] = (d, ops)
            base = self._base[key]
        elif base is None or (Q is None and base[0] > opened):  # index 0: the opening day
            length = need if Q is None else H + Q  # past H, life days repeat every Q
            base = self._base[key] = (opened, plan_ops(self.playbook, opened, opened,
                                                       max(1, length), self.p))
            self._life.pop(key, None)
        padded = self._life.get(key)
        if padded is None or len(padded.units) < self.days + need:
            life = np.arange(max(need, 0))  # 0-based life day
            if Q is not None:
                life = np.where(life >= H, H + (life - H) % Q, life)
            padded = self._life[key] = DayOps(*(
                np.concatenate([np.zeros(self.days, a.dtype), a[life]]) for a in (
                    base[1].units, base[1].posts, base[1].sent, base[1].sale,
                    base[1].dropped)))
        a = self.days + back
        return DayOps(*(x[a: a + self.days] for x in (padded.units, padded.posts, padded.sent,
                                                       padded.sale, padded.dropped)))

    def _periodic(self, opened: date) -> DayOps:
        key = opened.toordinal() % self.period if self.period else -1
        base = self._base.get(key) if self.period else None
        if base is None or base[0] > opened:
            ops = plan_ops(self.playbook, opened, self.start, self.days, self.p)
            if self.period:
                self._base[key] = (opened, ops)
            return ops
        cut = opened + timedelta(days=self.horizon)
        ops = plan_ops(self.playbook, opened, self.start, self.days, self.p, until=cut)
        i = max(0, (cut - self.start).days)
        src = base[1]
        for name in ("units", "posts", "sent", "sale", "dropped"):
            getattr(ops, name)[i:] = getattr(src, name)[i:]
        return ops

    def quiet_runs(self, opened: date, min_days: int) -> list[tuple[int, int]]:
        """1-based inclusive day ranges of at least ``min_days`` days with nothing sent."""
        sent = self.get(opened).sent
        runs, lo = [], None
        first = max(0, (opened - self.start).days)
        for i in range(first, self.days + 1):
            empty = i < self.days and sent[i] == 0
            if empty and lo is None:
                lo = i
            elif not empty and lo is not None:
                if i - lo >= min_days:
                    runs.append((lo + 1, i))
                lo = None
        return runs


_SHARED: OrderedDict[tuple, OpsBook] = OrderedDict()
_SHARED_KEEP = 4  # books kept: a benchmark's or a what-if bench's playbooks


def shared_book(playbook: Playbook, start: date, days: int, p: dict[str, float]) -> OpsBook:
    """An ``OpsBook`` shared by the forecasts of the same playbook over the same days, so a
    repeated forecast does not plan again. The plan is a pure function of the playbook,
    the groups and the window (plan.build); of the parameters, the books read only the
    stimulus weights of 1:1 and Moments messages, which are part of the key."""
    key = (playbook.model_dump_json(exclude={"simulation"}), start, days,
           p["target_members_weight"], p["target_moments_weight"])
    book = _SHARED.pop(key, None) or OpsBook(playbook, start, days, p)
    _SHARED[key] = book
    while len(_SHARED) > _SHARED_KEEP:
        _SHARED.popitem(last=False)
    return book


@lru_cache(maxsize=8192)
def sim_group_name(pattern: str, number: int) -> str:
    """``plan.render.group_name``, remembered: a forecast names a thousand groups or more,
    and the next forecast the same ones."""
    from ..plan.render import group_name

    return group_name(pattern, number)


def group_for(playbook: Playbook, number: int, opened: date, proto: Group | None) -> Group:
    """A simulated group named by the playbook's pattern."""
    prefix, width = "g", 3
    if proto is not None:
        import re

        m = re.match(r"^(.*?)(\d+)$", proto.id)
        if m:
            prefix, width = m.group(1), len(m.group(2))
    # a new group takes newcomers: it belongs to the funnel's first stage
    return Group(id=f"{prefix}{number:0{width}d}", number=number, opened=opened,
                 name=sim_group_name(playbook.positioning.name_pattern, number))


def _weekday_cron(c: CronSpec) -> bool:
    """Whether a cron expression picks its days by weekday alone (``30 15 * * 6``)."""
    return c.days_any and len(c.days) == 31 and len(c.months) == 12


def _life_structure(pb: Playbook) -> tuple[int, int | None]:
    """(horizon, period): life days after which only ``every_days`` periodicity matters,
    and that period (None when it is too long to be worth sharing)."""
    bounds = [1]
    period = 1
    for slot in pb.timetable:
        if slot.life is not None:
            lo, hi = slot.life
            bounds += [lo, (hi or 0) + 1]
        if slot.course:
            bounds.append(len(slot.course) + 1)
        if slot.every_days:
            period = lcm(period, slot.every_days)
    uses_phases = any(slot.phases for slot in pb.timetable)
    for ph in pb.funnel.phases if pb.funnel and uses_phases else []:
        lo, hi = ph.span
        bounds += [lo, (hi or 0) + 1]
    # a margin for deferrals across midnight and the plan's look-back
    return max(bounds) + 3, (period if period <= 90 else None)
