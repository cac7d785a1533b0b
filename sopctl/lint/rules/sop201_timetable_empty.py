"""The timetable is empty: the groups get no scheduled posts.

A group left without operation goes quiet within a week. The SOP's daily table has
a good-morning post, product knowledge, a small interaction, behind-the-scenes and
the evening lesson; start from that.

Bad::

    timetable: []

Good::

    timetable:
      - {id: morning, kind: good-morning, at: "07:30", text: "早上好, {group_name}!"}
"""

from __future__ import annotations

from collections.abc import Iterator

from ...i18n import _
from ..context import Context, Issue

CODE = "SOP201"
SLUG = "timetable-empty"
SEVERITY = "warning"


def check(ctx: Context) -> Iterator[Issue]:
    if not any(s.enabled for s in ctx.playbook.timetable):
        yield Issue(("timetable",), _("the timetable has no (enabled) slots"), key=True,
                    hint=_("`sopctl init` scaffolds the SOP's daily table"))
