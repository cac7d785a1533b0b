"""The group capacity is above WeCom's 200 members.

A WeCom customer group holds at most 200 members; a live code rolls new joiners to
the next group when one is full. A larger capacity means joiners are silently lost
and member forecasts are wrong.

Bad::

    positioning:
      platform: wecom
      capacity: 500

Good::

    positioning:
      platform: wecom
      capacity: 200
"""

from __future__ import annotations

from collections.abc import Iterator

from ...i18n import _
from ..context import Context, Issue
from ._shared import uses_wecom

CODE = "SOP108"
SLUG = "wecom-capacity"
SEVERITY = "error"


def check(ctx: Context) -> Iterator[Issue]:
    cap = ctx.playbook.positioning.capacity
    if cap > 200 and uses_wecom(ctx):
        yield Issue(("positioning", "capacity"),
                    _("capacity {cap} is above WeCom's 200 members per group").format(cap=cap),
                    hint=_("use capacity: 200 and a live code that rolls over to the next "
                           "group"))
