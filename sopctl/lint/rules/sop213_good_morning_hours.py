"""A good-morning slot is scheduled outside the morning.

The SOP greets the group between 07:30 and 08:30, with five minutes of chat. A
``good-morning`` slot before 06:00 or after 10:00 is probably a typo (19:30 for
07:30) or the wrong kind.

Bad::

    timetable:
      - {id: morning, kind: good-morning, at: "17:30", text: 早上好}

Good::

    timetable:
      - {id: morning, kind: good-morning, at: "07:30", text: 早上好}
"""

from __future__ import annotations

from collections.abc import Iterator

from ...i18n import _
from ..context import Context, Issue
from ._shared import schedule

CODE = "SOP213"
SLUG = "good-morning-hours"
SEVERITY = "info"


def check(ctx: Context) -> Iterator[Issue]:
    pb = ctx.playbook
    for p in schedule(ctx).plans:
        slot = pb.timetable[p.index]
        if slot.kind != "good-morning":
            continue
        lo, hi = (p.starts[0], p.starts[-1]) if p.starts else p.window
        if lo < 6 * 60 or hi > 10 * 60:
            yield Issue(("timetable", p.index, "cron" if slot.cron is not None else "at"),
                        _("good-morning slot '{slot}' is outside 06:00-10:00").format(
                            slot=slot.id),
                        hint=_("the SOP says good morning at 07:30-08:30"))
