"""The welcome lacks one of its four parts.

A welcome has four parts: the theme (what the group is), the services (what members
get, and when), the prohibited actions with their penalty, and the rewarded
behaviour with its reward. A part that is missing is a question every newcomer will
ask, or a rule nobody was told.

Bad::

    welcome:
      theme: 本群为美肌护肤交流群
      services: 每晚19:30 王老师讲护肤知识
      prohibited: 禁止广告、外链

Good::

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

from ...i18n import N_, _
from ..context import Context, Issue

CODE = "SOP102"
SLUG = "welcome-parts"
SEVERITY = "warning"

_PARTS = (("theme", None, N_("the theme (what the group is)")),
          ("services", None, N_("the services (what members get, and when)")),
          ("prohibited", "penalty", N_("the prohibited actions")),
          ("rewarded", "reward", N_("the rewarded behaviour")))


def check(ctx: Context) -> Iterator[Issue]:
    w = ctx.playbook.welcome
    if w is None:
        return
    for part, paired, label in _PARTS:
        if not getattr(w, part):
            yield Issue(("welcome",), _("welcome has no `{part}`: {label}").format(
                part=part, label=_(label)), key=True)
        elif paired and not getattr(w, paired):
            yield Issue(("welcome", part), _("welcome has `{part}` but no `{paired}`").format(
                part=part, paired=paired),
                        hint=_("say what follows: add `{paired}:`").format(paired=paired))
