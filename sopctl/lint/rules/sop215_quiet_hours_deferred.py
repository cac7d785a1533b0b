"""A slot falls in quiet hours and is held until they end.

Posts inside ``quiet_hours`` wake members up and get groups muted, so with the default
``quiet: defer`` such a post is held until quiet hours end — where it then lands on top
of the morning posts. The text still goes out, later than the timetable says. (With
``quiet: drop`` it would never go out: SOP203.)

Bad::

    quiet_hours: {start: "22:30", end: "07:00"}
    timetable:
      - {id: night, kind: knowledge, at: "23:00", text: 晚安小知识}

Good::

    quiet_hours: {start: "22:30", end: "07:00"}
    timetable:
      - {id: night, kind: knowledge, at: "21:30", text: 晚安小知识}
"""

from __future__ import annotations

from collections.abc import Iterator

from ...i18n import _
from ..context import Context, Issue
from .sop203_quiet_hours_slot import _fmt, quiet_hits

CODE = "SOP215"
SLUG = "quiet-hours-deferred"
SEVERITY = "warning"


def check(ctx: Context) -> Iterator[Issue]:
    q = ctx.playbook.quiet_hours
    for slot, hit, loc in quiet_hits(ctx):
        if slot.quiet != "drop" and q is not None:
            yield Issue(loc, _("slot '{slot}' at {time} falls in quiet hours {start}-{end}; "
                               "it is deferred to {end}").format(
                slot=slot.id, time=_fmt(hit), start=q.start, end=q.end),
                        hint=_("move it out of quiet hours"))
