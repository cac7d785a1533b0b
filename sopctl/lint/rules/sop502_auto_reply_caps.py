"""More auto-replies, or more keywords in one, than WeCom allows.

WeCom's group auto-reply takes at most 100 rules of at most 10 keywords each; the
rest cannot be configured. Merge rules, or move long keyword lists into a regex.

Bad::

    auto_replies:
      - keywords: [价格, 多少钱, 怎么买, 链接, 下单, 优惠, 折扣, 券, 包邮, 发货, 快递]
        reply: 回复"福利"领取今日优惠

Good::

    auto_replies:
      - keywords: [价格, 多少钱, 怎么买, 链接, 下单]
        reply: 回复"福利"领取今日优惠
      - keywords: [包邮, 发货, 快递]
        reply: 全国包邮, 48小时内发货
"""

from __future__ import annotations

from collections.abc import Iterator

from ...i18n import _
from ..context import Context, Issue
from ._shared import uses_wecom

CODE = "SOP502"
SLUG = "auto-reply-caps"
SEVERITY = "error"

MAX_RULES = 100
MAX_KEYWORDS = 10


def check(ctx: Context) -> Iterator[Issue]:
    replies = ctx.playbook.auto_replies
    if not replies or not uses_wecom(ctx):
        return
    if len(replies) > MAX_RULES:
        yield Issue(("auto_replies", MAX_RULES),
                    _("{n} auto-replies; WeCom allows {max}").format(n=len(replies),
                                                                     max=MAX_RULES),
                    hint=_("merge rules that give the same answer"))
    for i, a in enumerate(replies):
        if len(a.keywords) > MAX_KEYWORDS:
            yield Issue(("auto_replies", i, "keywords"),
                        _("{n} keywords in one auto-reply; WeCom allows {max}").format(
                            n=len(a.keywords), max=MAX_KEYWORDS),
                        hint=_("split it, or use match: regex"))
