"""What operations reach a group on each simulated day, taken from the plan.

The forecast shows exactly what would be sent: operations come from ``build_plan``. The
plan is per group, but two groups run by the same timetable differ only by their opening
date, so one representative group per distinct opening date is planned and reused.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

import numpy as np

from ..playbook.model import Group, Playbook
from .params import SALE_KINDS, kind_weight


@dataclass(slots=True)
class DayOps:
    """Per simulated day, for a group opened on one date."""

    units: np.ndarray  # stimulus units (kind weights summed)
    posts: np.ndarray  # operations posted to the group (a sequence counts once)
    sent: np.ndarray  # every message sent (group posts, 1:1 mass messages, Moments)
    sale: np.ndarray  # bool: an offer / flash sale that day
    kinds: list[dict[str, int]]  # message count by kind, per day
    dropped: np.ndarray  # occurrences the plan's caps or quiet hours dropped


def _target_weight(target: str, p: dict[str, float]) -> float:
    if target == "members":
        return p["target_members_weight"]
    if target == "moments":
        return p["target_moments_weight"]
    return 1.0


def plan_ops(playbook: Playbook, opened: date, start: date, days: int,
             p: dict[str, float]) -> DayOps:
    """Operations on days ``start .. start+days-1`` for a group opened on ``opened``."""
    units = np.zeros(days)
    posts = np.zeros(days, dtype=np.int64)
    sent = np.zeros(days, dtype=np.int64)
    sale = np.zeros(days, dtype=bool)
    kinds: list[dict[str, int]] = [{} for _ in range(days)]
    dropped = np.zeros(days, dtype=np.int64)
    first = max(start, opened)
    if first > start + timedelta(days=days - 1):
        return DayOps(units, posts, sent, sale, kinds, dropped)
    rep = Group(id="sim", name="sim", number=1, opened=opened)
    end = start + timedelta(days=days)
    gone: list = []
    for occ in _occurrences(playbook, rep, first, end, gone):
        i = (occ.local.date() - start).days
        if not 0 <= i < days:
            continue
        # A sequence is one operation: its later messages add posts, not stimulus.
        if occ.seq == 0:
            units[i] += kind_weight(occ.kind) * _target_weight(occ.target, p)
            if occ.target == "group":
                posts[i] += 1
        sent[i] += 1
        if occ.kind in SALE_KINDS:
            sale[i] = True
        kinds[i][occ.kind] = kinds[i].get(occ.kind, 0) + 1
    for occ in gone:
        i = (occ.local.date() - start).days
        if 0 <= i < days:
            dropped[i] += 1
    return DayOps(units, posts, sent, sale, kinds, dropped)


def _occurrences(playbook: Playbook, group: Group, first: date, end: date,
                 dropped: list) -> list:
    from datetime import datetime, time
    from zoneinfo import ZoneInfo

    from ..plan.build import build_plan_detailed

    tz = ZoneInfo(playbook.timezone)
    res = build_plan_detailed(playbook, datetime.combine(first, time(), tz),
                              datetime.combine(end, time(), tz), groups=[group])
    dropped.extend(d[0] for d in res.dropped)
    # Welcomes and replies react to members; the model counts them apart.
    return [o for o in res.occurrences if not o.slot.startswith(("welcome", "reply:"))]


class OpsBook:
    """Plans computed once per distinct opening date."""

    def __init__(self, playbook: Playbook, start: date, days: int, p: dict[str, float]):
        self.playbook, self.start, self.days, self.p = playbook, start, days, p
        self._by_open: dict[date, DayOps] = {}

    def get(self, opened: date) -> DayOps:
        ops = self._by_open.get(opened)
        if ops is None:
            ops = self._by_open[opened] = plan_ops(self.playbook, opened, self.start,
                                                   self.days, self.p)
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


def group_for(playbook: Playbook, number: int, opened: date, proto: Group | None) -> Group:
    """A simulated group named by the playbook's pattern."""
    from ..plan.render import group_name

    prefix, width = "g", 3
    if proto is not None:
        import re

        m = re.match(r"^(.*?)(\d+)$", proto.id)
        if m:
            prefix, width = m.group(1), len(m.group(2))
    return Group(id=f"{prefix}{number:0{width}d}", number=number, opened=opened,
                 name=group_name(playbook.positioning.name_pattern, number),
                 stage=proto.stage if proto else None)

