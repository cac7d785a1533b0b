"""There is no nickname format rule.

A fixed nickname format (``城市-行业-昵称`` or ``姓名+性别+区域``) lets members
know who they are talking to and lets staff spot outsiders. State it under
``rules.nickname``.

Bad::

    rules:
      items:
        - {id: no-ads, text: 禁止广告, detect: {links: true}}

Good::

    rules:
      nickname: {format: 城市-行业-昵称}
      items:
        - {id: no-ads, text: 禁止广告, detect: {links: true}}
"""

from __future__ import annotations

from collections.abc import Iterator

from ...i18n import _
from ..context import Context, Issue

CODE = "SOP106"
SLUG = "no-nickname-rule"
SEVERITY = "warning"


def check(ctx: Context) -> Iterator[Issue]:
    if ctx.playbook.rules.nickname is None:
        yield Issue(("rules",), _("no nickname rule (e.g. 城市-行业-昵称)"), key=True,
                    hint=_("add `nickname: {format: 城市-行业-昵称}` under rules"))
