"""A group rule says nothing about how a violation is recognised.

A rule that nothing detects is enforced only when a moderator happens to notice.
Give it a ``detect:`` (links, keywords, regex, flooding, private adding, nickname)
so the runner can apply the penalty ladder at once.

Bad::

    rules:
      items:
        - {id: no-ads, text: 禁止广告、外链}

Good::

    rules:
      items:
        - {id: no-ads, text: 禁止广告、外链, detect: {links: true, keywords: [加微信]}}
"""

from __future__ import annotations

from collections.abc import Iterator

from ...i18n import _
from ..context import Context, Issue

CODE = "SOP107"
SLUG = "undetectable-rule"
SEVERITY = "warning"


def check(ctx: Context) -> Iterator[Issue]:
    for i, r in enumerate(ctx.playbook.rules.items):
        d = r.detect
        if d is None or not (d.links or d.keywords or d.regex or d.flood or d.private_add
                             or d.nickname):
            yield Issue(("rules", "items", i),
                        _("rule '{rule}' has no way to detect a violation").format(rule=r.id),
                        hint=_("add detect: links, keywords, regex, flood, private_add or "
                               "nickname"))
