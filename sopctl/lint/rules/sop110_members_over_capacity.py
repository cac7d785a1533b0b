"""A group has more members than the capacity allows.

The inventory says a group holds more members than ``positioning.capacity``; either
the count is wrong or the group should have rolled new joiners to the next group.

Bad::

    positioning: {capacity: 200}
    groups:
      - {id: g001, opened: 2026-11-02, members: 260}

Good::

    positioning: {capacity: 200}
    groups:
      - {id: g001, opened: 2026-11-02, members: 200}
      - {id: g002, opened: 2026-11-09, members: 60}
"""

from __future__ import annotations

from collections.abc import Iterator

from ...i18n import _
from ..context import Context, Issue

CODE = "SOP110"
SLUG = "members-over-capacity"
SEVERITY = "error"


def check(ctx: Context) -> Iterator[Issue]:
    cap = ctx.playbook.positioning.capacity
    for i, g in enumerate(ctx.groups):
        if g.members > cap:
            yield Issue(("groups", i, "members"),
                        _("group '{group}' has {members} members, above the capacity "
                          "{cap}").format(group=g.id, members=g.members, cap=cap))
