"""A week or more passes with no operation at all in a group.

A group left one week without operation goes quiet for good. Somewhere in the
group's planned life (``positioning.planned_days``, or its first four weeks) seven
or more days in a row have no scheduled slot: typically a course that ends with
nothing after it, or weekly events only.

Bad::

    positioning: {planned_days: 28}
    timetable:
      - {id: lesson, kind: course, at: "19:30", course: [第1课, 第2课, 第3课]}

Good::

    positioning: {planned_days: 28}
    timetable:
      - {id: lesson, kind: course, at: "19:30", course: [第1课, 第2课, 第3课]}
      - {id: morning, kind: good-morning, at: "07:30", text: 早上好}
"""

from __future__ import annotations

from collections.abc import Iterator

from ...i18n import _
from ..context import Context, Issue
from ._shared import schedule, weekday_name

CODE = "SOP209"
SLUG = "group-goes-quiet"
SEVERITY = "warning"

QUIET_DAYS = 7


def check(ctx: Context) -> Iterator[Issue]:
    from datetime import timedelta

    pb = ctx.playbook
    if not pb.timetable:
        return  # SOP201 says it
    sched = schedule(ctx)
    union = 0
    for p in sched.plans:
        if pb.timetable[p.index].target == "group":
            union |= p.mask
    life = min(sched.life, sched.horizon)
    for k, opened in enumerate(sched.openings):
        run = 0
        for day in range(life):
            run = 0 if union >> (k * sched.horizon + day) & 1 else run + 1
            if run == QUIET_DAYS:
                first = day - QUIET_DAYS + 2
                while day + 1 < life and not union >> (k * sched.horizon + day + 1) & 1:
                    day += 1
                wd = weekday_name(opened.weekday())
                start = opened + timedelta(days=first - 1)
                yield Issue(("timetable",), _(
                    "days {first}-{last} of a group's life have no operation at all (group "
                    "opened on a {weekday}, e.g. from {date})").format(
                        first=first, last=day + 1, weekday=wd, date=start),
                            key=True, hint=_("a group left a week without operation goes "
                                             "quiet; add a daily or every-2-days slot"))
                return
