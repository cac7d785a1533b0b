"""Delivery mode "remind": instead of posting, tell the responsible staff member what to post
and when ("请在 07:30 于 美肌福利群001 发送: …"), through another channel (or the console).
This is how customer groups that no bot may post to are run."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime
from typing import Any

from .base import Channel, OutMessage, SendResult


class RemindChannel:
    type = "remind"

    def __init__(self, name: str, target: Channel) -> None:
        self.name, self.target = name, target

    @classmethod
    def around(cls, channel: Any) -> RemindChannel:
        """The reminder path of a posting channel: its ``remind`` channel, else the console."""
        target = channel.reminder
        if target is None:
            target = _console(channel)
            channel.reminder = target
        return cls(channel.name, target)

    def reminder(self, msg: OutMessage) -> OutMessage:
        when = msg.due.strftime("%H:%M") if msg.due else datetime.now().strftime("%H:%M")
        group = msg.group_name or msg.group_id
        text = f"请在 {when} 于 {group} 发送: {msg.text}"
        tcfg = getattr(self.target, "cfg", None)
        return replace(msg, key=msg.key + "#remind", text=text, format="text", mention="none",
                       mentions=(msg.remind_to,) if msg.remind_to else (),
                       chat_id=getattr(tcfg, "chat_id", None) or msg.chat_id, remind_to=None,
                       delivery="post")

    async def send(self, msg: OutMessage, *, deadline: float | None = None) -> SendResult:
        res = await self.target.send(self.reminder(msg), deadline=deadline)  # type: ignore[call-arg]
        res.response = {**res.response, "mode": "remind", "remind_to": msg.remind_to,
                        "via": self.target.name}
        return res

    async def aclose(self) -> None:
        return None  # the target is closed by whoever owns it


def _console(channel: Any) -> Channel:
    from ...playbook.model import Channel as ChannelCfg
    from .console import ConsoleChannel

    return ConsoleChannel(f"{channel.name}:remind", ChannelCfg(type="console"), env={},
                          client=None, state_dir=channel.state_dir, ctx=channel.ctx)
