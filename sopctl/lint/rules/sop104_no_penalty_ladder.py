"""A rule has an empty penalty ladder: violations are never acted on.

Rules work when they are enforced at once and the same way every time. The default
ladder is: first violation warned, second removed (and blacklisted). An empty
``ladder: []`` turns enforcement off for every rule that uses it.

Bad::

    rules:
      ladder: []

Good::

    rules:
      ladder: [warn, remove]
"""

from __future__ import annotations

from collections.abc import Iterator

from ...i18n import _
from ..context import Context, Issue

CODE = "SOP104"
SLUG = "no-penalty-ladder"
SEVERITY = "error"


def check(ctx: Context) -> Iterator[Issue]:
    rules = ctx.playbook.rules
    if rules.ladder == [] and any(r.ladder is None for r in rules.items):
        yield Issue(("rules", "ladder"),
                    _("empty penalty ladder: violations are never acted on"),
                    hint=_("use the SOP's ladder: [warn, remove]"))
    for i, r in enumerate(rules.items):
        if r.ladder == []:
            yield Issue(("rules", "items", i, "ladder"),
                        _("rule '{rule}' has an empty penalty ladder").format(rule=r.id),
                        hint=_("drop `ladder:` to use the default, or write [warn, remove]"))
