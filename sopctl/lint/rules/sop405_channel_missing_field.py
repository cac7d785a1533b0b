"""A channel lacks a field its type needs.

wecom-robot needs ``key``; feishu and dingtalk ``token``; telegram ``token`` and a
``chat_id`` (on the channel or on every group that uses it); slack, discord and
webhook a ``url``; wecom-customer-group ``corp_id``, ``corp_secret`` and
``sender`` (the staff member whose app confirms the posts).

Bad::

    channels:
      tg: {type: telegram, token: "${TG_BOT_TOKEN}"}

Good::

    channels:
      tg: {type: telegram, token: "${TG_BOT_TOKEN}", chat_id: "-1001234567890"}
"""

from __future__ import annotations

from collections.abc import Iterator

from ...i18n import _
from ..context import Context, Issue

CODE = "SOP405"
SLUG = "channel-missing-field"
SEVERITY = "error"

REQUIRED = {"wecom-robot": ("key",), "feishu": ("token",), "dingtalk": ("token",),
            "telegram": ("token",), "slack": ("url",), "discord": ("url",),
            "webhook": ("url",), "wecom-customer-group": ("corp_id", "corp_secret", "sender")}


def check(ctx: Context) -> Iterator[Issue]:
    pb = ctx.playbook
    for name, ch in pb.channels.items():
        missing = [f for f in REQUIRED.get(ch.type, ()) if not getattr(ch, f)]
        if ch.type == "telegram" and not ch.chat_id:
            users = [g for g in ctx.groups if (g.channel or pb.channel) == name]
            if not users or any(g.chat_id is None for g in users):
                missing.append("chat_id")
        if missing:
            yield Issue(("channels", name), _("{type} channel '{channel}' needs "
                                              "{fields}").format(
                type=ch.type, channel=name, fields=", ".join(missing)), key=True)
