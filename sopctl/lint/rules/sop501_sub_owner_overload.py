"""A sub-owner runs more than four groups.

The SOP gives each sub-owner (分群主) 3–4 groups: beyond that the good-morning chat,
the daily interaction and the quick removal of ads stop happening in some of them.

Bad::

    roles:
      sub_owners:
        - {name: 小林, groups: [g001, g002, g003, g004, g005]}

Good::

    roles:
      sub_owners:
        - {name: 小林, groups: [g001, g002, g003]}
        - {name: 小周, groups: [g004, g005]}
"""

from __future__ import annotations

from collections.abc import Iterator

from ...i18n import _
from ..context import Context, Issue

CODE = "SOP501"
SLUG = "sub-owner-overload"
SEVERITY = "warning"

MAX_GROUPS = 4


def check(ctx: Context) -> Iterator[Issue]:
    for i, p in enumerate(ctx.playbook.roles.sub_owners):
        n = len(set(p.groups))
        if n > MAX_GROUPS:
            yield Issue(("roles", "sub_owners", i, "groups"),
                        _("sub-owner '{name}' runs {n} groups, more than {max}").format(
                            name=p.name, n=n, max=MAX_GROUPS),
                        hint=_("the SOP gives each sub-owner 3-4 groups"))
