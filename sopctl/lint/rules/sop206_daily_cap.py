"""More posts reach a group in one day than ``caps.per_group_per_day`` allows.

Members mute groups that post too much. The runner holds back posts over the cap,
so the slots that come last that day are silently skipped. Every message of a
sequence counts. Checked over the first four weeks of a group's life (and its
planned life), for each weekday a group of the inventory opened on.

Bad::

    caps: {per_group_per_day: 3}
    timetable:
      - {id: morning, kind: good-morning, at: "07:30", text: 早上好}
      - {id: knowledge, kind: knowledge, at: "11:00", text: 护肤小知识}
      - {id: share, kind: interaction, at: "15:00", text: 晒单时间}
      - {id: lesson, kind: course, at: "19:30", text: 今晚课程}

Good::

    caps: {per_group_per_day: 4}
    timetable:
      - {id: morning, kind: good-morning, at: "07:30", text: 早上好}
      - {id: knowledge, kind: knowledge, at: "11:00", text: 护肤小知识}
      - {id: share, kind: interaction, at: "15:00", text: 晒单时间}
      - {id: lesson, kind: course, at: "19:30", text: 今晚课程}
"""

from __future__ import annotations

from collections.abc import Iterator

from ...i18n import _, ngettext
from ..context import Context, Issue
from ._shared import over_cap

CODE = "SOP206"
SLUG = "daily-cap"
SEVERITY = "warning"


def check(ctx: Context) -> Iterator[Issue]:
    cap = ctx.playbook.caps.per_group_per_day
    found = over_cap(ctx, "group", cap)
    if found is not None:
        index, count, day = found
        slot = ctx.playbook.timetable[index]
        yield Issue(("timetable", index),
                    ngettext("{count} post to a group on {day}, over caps.per_group_per_day "
                             "({cap}); slot '{slot}' and later ones are held back",
                             "{count} posts to a group on {day}, over caps.per_group_per_day "
                             "({cap}); slot '{slot}' and later ones are held back", count).format(
                        count=count, day=day, cap=cap, slot=slot.id),
                    hint=_("spread the slots over different days, or raise the cap"))
