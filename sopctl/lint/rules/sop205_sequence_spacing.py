"""Messages of a sequence are less than a minute apart.

Interactive quiz and story messages land best 1–2 minutes apart: members have time
to read and answer, and robots stay clear of their per-minute limits.

Bad::

    timetable:
      - id: quiz
        kind: interaction
        at: "20:30"
        spacing: 20s
        sequence: [{text: 第一题}, {text: 第二题}, {text: 公布答案}]

Good::

    timetable:
      - id: quiz
        kind: interaction
        at: "20:30"
        spacing: 1-2m
        sequence: [{text: 第一题}, {text: 第二题}, {text: 公布答案}]
"""

from __future__ import annotations

from collections.abc import Iterator

from ...i18n import _
from ..context import Context, Issue

CODE = "SOP205"
SLUG = "sequence-spacing"
SEVERITY = "warning"


def check(ctx: Context) -> Iterator[Issue]:
    for i, s in enumerate(ctx.playbook.timetable):
        if len(s.sequence) < 2:
            continue
        if s.spacing_s[0] < 60 and any(m.wait_s is None for m in s.sequence[1:]):
            yield Issue(("timetable", i, "spacing"),
                        _("sequence '{slot}' spaces its messages under a minute apart").format(
                            slot=s.id),
                        hint=_('the SOP spaces interactive messages 1-2 minutes: '
                               'spacing: "1-2m"'))
        for j, m in enumerate(s.sequence[1:], start=1):
            if m.wait_s is not None and m.wait_s < 60:
                yield Issue(("timetable", i, "sequence", j, "wait"),
                            _("message {n} of '{slot}' follows the previous one in under a "
                              "minute").format(n=j + 1, slot=s.id),
                            hint=_("wait at least 1m"))
