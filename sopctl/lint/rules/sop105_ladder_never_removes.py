"""The penalty ladder never removes anyone.

A ladder of warnings alone teaches members that rules are optional; the SOP's
ladder ends in removal (1st violation warned, 2nd removed), announced in the group.

Bad::

    rules:
      ladder: [warn, warn, mute]

Good::

    rules:
      ladder: [warn, mute, remove]
"""

from __future__ import annotations

from collections.abc import Iterator

from ...i18n import _
from ..context import Context, Issue

CODE = "SOP105"
SLUG = "ladder-never-removes"
SEVERITY = "warning"

_ENDS = ("remove", "blacklist")


def check(ctx: Context) -> Iterator[Issue]:
    rules = ctx.playbook.rules
    if rules.ladder and not any(s in _ENDS for s in rules.ladder):
        yield Issue(("rules", "ladder"), _("the penalty ladder never removes a repeat offender"),
                    hint=_("end it with `remove`, e.g. [warn, remove]"))
    for i, r in enumerate(rules.items):
        if r.ladder and not any(s in _ENDS for s in r.ladder):
            yield Issue(("rules", "items", i, "ladder"),
                        _("rule '{rule}' never removes a repeat offender").format(rule=r.id),
                        hint=_("end the ladder with `remove`"))
