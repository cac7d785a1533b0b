"""The playbook has no welcome message.

Every new member should be greeted with @nickname within minutes: the first
impression forms within 24 hours, and the welcome is where the group says what it
is, what members get, what is forbidden and what is rewarded.

Bad::

    name: 美肌福利群
    rules: {nickname: {format: 城市-昵称}}

Good::

    name: 美肌福利群
    welcome:
      theme: 本群为美肌护肤交流群
      services: 每晚19:30 王老师讲护肤知识
      prohibited: 禁止广告、外链
      penalty: 第一次提醒, 第二次移出
      rewarded: 晒单分享
      reward: 红包一个
"""

from __future__ import annotations

from collections.abc import Iterator

from ...i18n import _
from ..context import Context, Issue

CODE = "SOP101"
SLUG = "welcome-missing"
SEVERITY = "warning"


def check(ctx: Context) -> Iterator[Issue]:
    if ctx.playbook.welcome is None:
        yield Issue((), _("no welcome message; new members are not greeted"),
                    hint=_("add `welcome:` with theme, services, prohibited/penalty and "
                           "rewarded/reward"))
