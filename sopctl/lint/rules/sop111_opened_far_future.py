"""A group opens more than a year from now.

An opening date far in the future is almost always a typo (2062 for 2026); the group
would get no posts at all until then.

Bad::

    groups:
      - {id: g001, opened: 2062-11-02}

Good::

    groups:
      - {id: g001, opened: 2026-11-02}
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date

from ...i18n import _
from ..context import Context, Issue

CODE = "SOP111"
SLUG = "opened-far-future"
SEVERITY = "warning"


def check(ctx: Context) -> Iterator[Issue]:
    today = date.today()
    for i, g in enumerate(ctx.groups):
        if (g.opened - today).days > 366:
            yield Issue(("groups", i, "opened"),
                        _("group '{group}' opens on {date}, more than a year from "
                          "now").format(group=g.id, date=g.opened),
                        hint=_("check the year"))
