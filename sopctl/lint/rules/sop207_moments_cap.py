"""More than four Moments posts a day (or more than ``caps.moments_per_day``).

The SOP posts to Moments 3–4 times a day, in the windows 07:30–09:00, 11:00–14:00,
16:00–19:00 and 21:00–23:00. More than four a day reads as spam and gets the
account folded or blocked by friends.

Bad::

    timetable:
      - {id: m1, kind: moments, target: moments, at: "08:00", text: 早安}
      - {id: m2, kind: moments, target: moments, at: "12:00", text: 午间福利}
      - {id: m3, kind: moments, target: moments, at: "17:00", text: 幕后花絮}
      - {id: m4, kind: moments, target: moments, at: "21:00", text: 晒单合集}
      - {id: m5, kind: moments, target: moments, at: "22:00", text: 晚安}

Good::

    timetable:
      - {id: m1, kind: moments, target: moments, at: "08:00", text: 早安}
      - {id: m2, kind: moments, target: moments, at: "12:00", text: 午间福利}
      - {id: m3, kind: moments, target: moments, at: "17:00", text: 幕后花絮}
      - {id: m4, kind: moments, target: moments, at: "21:00", text: 晒单合集}
"""

from __future__ import annotations

from collections.abc import Iterator

from ...i18n import _, ngettext
from ..context import Context, Issue
from ._shared import over_cap

CODE = "SOP207"
SLUG = "moments-cap"
SEVERITY = "warning"


def check(ctx: Context) -> Iterator[Issue]:
    cap = min(ctx.playbook.caps.moments_per_day, 4)
    found = over_cap(ctx, "moments", cap)
    if found is not None:
        index, count, day = found
        yield Issue(("timetable", index, "target"),
                    ngettext("{count} Moments post on {day}, over {cap} a day",
                             "{count} Moments posts on {day}, over {cap} a day", count).format(
                        count=count, day=day, cap=cap),
                    hint=_("the SOP posts 3-4 Moments a day"))
