"""An auto-reply has neither a reply nor a content item.

The keyword matches, and nothing is sent back.

Bad::

    auto_replies:
      - {keywords: [发货]}

Good::

    auto_replies:
      - {keywords: [发货], reply: 下单后48小时内发货}
"""

from __future__ import annotations

from collections.abc import Iterator

from ...i18n import _
from ..context import Context, Issue

CODE = "SOP504"
SLUG = "auto-reply-empty"
SEVERITY = "error"


def check(ctx: Context) -> Iterator[Issue]:
    for i, a in enumerate(ctx.playbook.auto_replies):
        if not a.reply and not a.content:
            yield Issue(("auto_replies", i),
                        _("auto-reply for '{keyword}' has no reply").format(
                            keyword=a.keywords[0]),
                        hint=_("add `reply:` or `content:`"))
