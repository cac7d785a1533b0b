"""Delivery mode "remind": instead of posting, tell the responsible staff member what to post
and when ("请在 07:30 于 美肌福利群001 发送: …"), through another channel (or the console).
This is how customer groups that no bot may post to are run.

A RemindChannel implements the channel protocol around its target; ``make_channel`` gives
every channel one (``channel.reminder``) and returns it in place of a ``mode: remind``
channel, so nothing here has to know how channels are built.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime
from typing import TYPE_CHECKING, Any

from .. import reasons as R
from .base import Channel, OutMessage, SendResult

if TYPE_CHECKING:
    from ..ratelimit import Limit


class RemindChannel:
    type = "remind"
    reminder = None  # a reminder is posted, never reminded about

    def __init__(self, name: str, target: Channel) -> None:
        self.name, self.target = name, target

    @property
    def idempotent(self) -> bool:
        return self.target.idempotent

    @property
    def paced(self) -> bool:
        return bool(getattr(self.target, "paced", False))

    def to_reminder(self, msg: OutMessage) -> OutMessage:
        when = msg.due.strftime("%H:%M") if msg.due else datetime.now().strftime("%H:%M")
        group = msg.group_name or msg.group_id
        text = f"请在 {when} 于 {group} 发送: {msg.text}"
        return self.to_staff(msg, text, msg.remind_to)

    def to_staff(self, msg: OutMessage, text: str, to: str | None) -> OutMessage:
        """``msg`` as a plain message to staff member ``to`` on the target channel."""
        tcfg = getattr(self.target, "cfg", None)
        return replace(msg, key=msg.key + "#remind", text=text, format="text", mention="none",
                       mentions=(to,) if to else (),
                       chat_id=getattr(tcfg, "chat_id", None) or msg.chat_id, remind_to=None,
                       delivery="post")

    def parts(self, msg: OutMessage) -> list[Any]:
        return self.target.parts(self.to_reminder(msg))

    def limits(self, part: Any) -> Sequence[Limit]:
        return self.target.limits(part)

    async def attempt(self, part: Any) -> SendResult:
        return await self.target.attempt(part)

    async def send(self, msg: OutMessage, *, deadline: float | None = None) -> SendResult:
        return await self.post(self.to_reminder(msg), msg.remind_to, deadline=deadline)

    async def post(self, reminder: OutMessage, to: str | None, *,
                   deadline: float | None = None) -> SendResult:
        """Send an already-worded reminder through the target."""
        res = await self.target.send(reminder, deadline=deadline)
        res.response = {**res.response, "mode": "remind", "remind_to": to,
                        "via": self.target.name}
        return res

    async def remove_member(self, chat_id: str, member: str) -> SendResult:
        return SendResult("failed", R.REMIND_NO_REMOVE,
                          parts=0, attempts=0)

    async def mute_member(self, chat_id: str, member: str) -> SendResult:
        return SendResult("failed", R.REMIND_NO_MUTE,
                          parts=0, attempts=0)

    async def aclose(self) -> None:
        return None  # the target is closed by whoever owns it
