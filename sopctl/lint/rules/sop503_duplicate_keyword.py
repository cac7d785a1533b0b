"""The same keyword triggers two auto-replies.

Only one answer can win; which one depends on the order the platform checks them,
and members get a different answer from what the playbook says.

Bad::

    auto_replies:
      - {keywords: [价格, 多少钱], reply: 今日特价 99 元}
      - {keywords: [优惠, 价格], reply: 回复"福利"领券}

Good::

    auto_replies:
      - {keywords: [价格, 多少钱], reply: 今日特价 99 元}
      - {keywords: [优惠, 领券], reply: 回复"福利"领券}
"""

from __future__ import annotations

from collections.abc import Iterator

from ...i18n import _
from ..context import Context, Issue

CODE = "SOP503"
SLUG = "duplicate-keyword"
SEVERITY = "warning"


def check(ctx: Context) -> Iterator[Issue]:
    seen: dict[str, int] = {}
    for i, a in enumerate(ctx.playbook.auto_replies):
        mine: set[str] = set()
        for j, kw in enumerate(a.keywords):
            key = kw.strip().lower()
            if key in mine:
                continue
            mine.add(key)
            if key in seen:
                yield Issue(("auto_replies", i, "keywords", j),
                            _("keyword '{keyword}' already triggers auto-reply {n}").format(
                                keyword=kw, n=seen[key] + 1),
                            hint=_("keep it in one"))
            else:
                seen[key] = i
