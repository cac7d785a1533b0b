"""Two timetable slots share an id.

Slot ids key the delivery ledger (what was already sent) and the content rotation,
so two slots with one id overwrite each other's history: one of them is skipped as
"already sent".

Bad::

    timetable:
      - {id: morning, kind: good-morning, at: "07:30", text: 早上好}
      - {id: morning, kind: knowledge, at: "11:00", text: 护肤小知识}

Good::

    timetable:
      - {id: morning, kind: good-morning, at: "07:30", text: 早上好}
      - {id: knowledge, kind: knowledge, at: "11:00", text: 护肤小知识}
"""

from __future__ import annotations

from collections.abc import Iterator

from ...i18n import _
from ..context import Context, Issue

CODE = "SOP214"
SLUG = "duplicate-slot-id"
SEVERITY = "error"


def check(ctx: Context) -> Iterator[Issue]:
    seen: dict[str, int] = {}
    for i, s in enumerate(ctx.playbook.timetable):
        if s.id in seen:
            yield Issue(("timetable", i, "id"),
                        _("slot id '{slot}' is already used by slot {n}").format(
                            slot=s.id, n=seen[s.id] + 1),
                        hint=_("give every slot its own id"))
        else:
            seen[s.id] = i
