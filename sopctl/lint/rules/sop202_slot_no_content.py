"""A slot has nothing to send.

A slot needs ``text``, a ``content`` item, a ``course`` or a ``sequence``; without
one the runner has nothing to post (or to remind staff of) at that time.

Bad::

    timetable:
      - {id: share, kind: red-packet, at: "13:00-16:00"}

Good::

    timetable:
      - {id: share, kind: red-packet, at: "13:00-16:00", text: 晒单领红包啦!}
"""

from __future__ import annotations

from collections.abc import Iterator

from ...i18n import _
from ..context import Context, Issue

CODE = "SOP202"
SLUG = "slot-no-content"
SEVERITY = "error"


def check(ctx: Context) -> Iterator[Issue]:
    for i, s in enumerate(ctx.playbook.timetable):
        if not (s.text or s.content or s.course or s.sequence):
            yield Issue(("timetable", i), _("slot '{slot}' has nothing to send").format(slot=s.id),
                        hint=_("add text, content, course or sequence"))
