"""The group name pattern has no number field.

Every group of a SOP shares one name with its own number (``美肌福利群001``), so
members and staff can tell the groups apart. Put ``{n}`` (or ``{n:03}`` for 001) in
the pattern.

Bad::

    positioning:
      name_pattern: 美肌福利群

Good::

    positioning:
      name_pattern: "美肌福利群{n:03}"
"""

from __future__ import annotations

from collections.abc import Iterator

from ...i18n import _
from ..context import Context, Issue

CODE = "SOP109"
SLUG = "name-pattern-number"
SEVERITY = "warning"


def check(ctx: Context) -> Iterator[Issue]:
    from ...plan.template import parse, problems

    pattern = ctx.playbook.positioning.name_pattern
    if problems(pattern, {"n"}):  # SOP103 (an error) says what is wrong with it
        return
    if "n" not in parse(pattern).names:
        yield Issue(("positioning", "name_pattern"),
                    _("name pattern has no group number {n}"),
                    hint=_('e.g. "美肌福利群{n:03}"'))
