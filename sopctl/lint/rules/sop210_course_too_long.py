"""A course runs longer than the group's planned life.

Lesson N goes out on day N of a group's life. When the course has more lessons than
the group has days (``positioning.planned_days``, or four weeks when unset), the last
lessons are never taught.

Bad::

    positioning: {planned_days: 6}
    timetable:
      - {id: lesson, kind: course, at: "19:30", course: [第1课, 第2课, 第3课, 第4课,
                                                   第5课, 第6课, 第7课, 第8课]}

Good::

    positioning: {planned_days: 14}
    timetable:
      - {id: lesson, kind: course, at: "19:30", course: [第1课, 第2课, 第3课, 第4课,
                                                   第5课, 第6课, 第7课, 第8课]}
"""

from __future__ import annotations

from collections.abc import Iterator

from ...i18n import _
from ..context import Context, Issue
from ._shared import planned_life

CODE = "SOP210"
SLUG = "course-too-long"
SEVERITY = "warning"


def check(ctx: Context) -> Iterator[Issue]:
    life = planned_life(ctx)
    for i, s in enumerate(ctx.playbook.timetable):
        if not s.course:
            continue
        last = len(s.course)
        if s.life is not None:
            lo, hi = s.life
            last = min(last, hi) if hi is not None else last
            if lo > life:
                last = lo
        if last > life:
            yield Issue(("timetable", i, "course"),
                        _("course '{slot}' has {lessons} lessons (to day {last}) but a group "
                          "runs {life} days").format(slot=s.id, lessons=len(s.course),
                                                     last=last, life=life),
                        hint=_("set positioning.planned_days to the group's real life, or "
                               "shorten the course"))
