"""Two groups of the inventory share an id.

Group ids key the delivery ledger and the staff assignments; with two groups under
one id, one of them gets the other's posts skipped as "already sent".

Bad::

    groups:
      - {id: g001, opened: 2026-11-02}
      - {id: g001, opened: 2026-11-09}

Good::

    groups:
      - {id: g001, opened: 2026-11-02}
      - {id: g002, opened: 2026-11-09}
"""

from __future__ import annotations

from collections.abc import Iterator

from ...i18n import _
from ..context import Context, Issue

CODE = "SOP308"
SLUG = "duplicate-group-id"
SEVERITY = "error"


def check(ctx: Context) -> Iterator[Issue]:
    seen: set[str] = set()
    for i, g in enumerate(ctx.groups):
        if g.id in seen:
            yield Issue(("groups", i, "id"), _("group id '{group}' is used twice").format(
                group=g.id), hint=_("give every group its own id"))
        seen.add(g.id)
