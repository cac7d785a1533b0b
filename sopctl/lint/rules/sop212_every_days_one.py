"""``every_days: 1`` says nothing: slots are daily by default.

Drop it, or use ``every_days: 2`` if an every-other-day cadence was meant (晒单 and
red packets: every 2–3 days).

Bad::

    timetable:
      - {id: morning, kind: good-morning, at: "07:30", every_days: 1, text: 早上好}

Good::

    timetable:
      - {id: morning, kind: good-morning, at: "07:30", text: 早上好}
"""

from __future__ import annotations

from collections.abc import Iterator

from ...i18n import _
from ..context import Context, Issue

CODE = "SOP212"
SLUG = "every-days-one"
SEVERITY = "info"


def check(ctx: Context) -> Iterator[Issue]:
    for i, s in enumerate(ctx.playbook.timetable):
        if s.every_days == 1:
            yield Issue(("timetable", i, "every_days"),
                        _("slot '{slot}': every_days: 1 is the default").format(slot=s.id),
                        hint=_("remove it"))
