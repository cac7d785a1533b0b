"""Reactions out through the runner's channels: the same plugins, client and dispatcher.

:class:`ChannelSender` builds the channels the groups' reactions use (``make_channels``,
secrets from the environment, one shared HTTP client, one delivery context) and sends a
batch of claimed ledger rows with the runner's :class:`~sopctl.run.delivery.Dispatcher`:
rate limits, retries, splitting and the reasons in the ledger are the scheduled posts' own.

- ``post``: an OutMessage to the group's chat through its channel (console and file
  channels included: they are channels like any other).
- ``remind``: a message to staff (the admin mentioned) through the channel's reminder
  path (its ``remind`` channel, else the console), as `mode: remind` slots do.
- ``remove`` / ``mute``: the channel's member operations (Telegram ``banChatMember`` /
  ``restrictChatMember``); other platforms have none, and the engine turns removals there
  into reminders before they get here.

All coroutines run on the caller's event loop (the delivery thread owns one).
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..run.ledger import Outcome
from .engine import Recorded

if TYPE_CHECKING:
    from ..playbook.model import Playbook
    from ..run.channels.base import Channel, OutMessage, SendResult

# mentions by platform user id; elsewhere the rendered text already names the members
_MENTION_BY_ID = ("wecom-robot", "wecom-customer-group", "dingtalk", "feishu", "file")
MEMBER_OP_ATTEMPTS = 3


class ChannelSender:
    """Sends claimed reactions; one instance per playbook, used from one event loop."""

    def __init__(self, pb: Playbook, channels: Mapping[str, Channel], client: Any = None, *,
                 ctx: Any = None, concurrency: int = 50, budget_s: float = 600.0):
        from ..run.delivery import Dispatcher

        self.pb = pb
        self.channels = dict(channels)
        self.client = client
        self.ctx = ctx
        self.budget_s = budget_s
        self.dispatcher = Dispatcher(self.channels, concurrency=concurrency)
        self.groups = {g.id: g for g in (pb.groups if isinstance(pb.groups, list) else [])}

    @classmethod
    def build(cls, pb: Playbook, names: set[str], *, env: Mapping[str, str],
              state_dir: Path, concurrency: int = 50) -> ChannelSender:
        """Channels ``names`` (and their reminder targets) as the runner builds them.
        Raises SopctlError for a missing secret or an unknown channel."""
        from ..run.channels import channel_configs, make_channels
        from ..run.delivery import DeliveryContext, make_client

        client = make_client(concurrency=concurrency)
        ctx = DeliveryContext()
        chans = make_channels(channel_configs(pb.channels, names), env=env, client=client,
                              state_dir=state_dir, ctx=ctx)
        return cls(pb, chans, client, ctx=ctx, concurrency=concurrency)

    # ------------------------------------------------------------------ messages
    def message(self, x: Recorded) -> OutMessage:
        from ..plan.groups import group_display_name
        from ..run.channels.base import OutMessage

        a = x.action
        g = self.groups.get(a.group)
        ch = self.channels.get(x.channel)
        by_id = getattr(ch, "type", "") in _MENTION_BY_ID
        return OutMessage(
            key=a.key, group_id=a.group,
            group_name=group_display_name(self.pb, g) if g else a.group,
            chat_id=g.chat_id if g else None, text=a.text,
            format=str(a.data.get("format") or "text"),
            mentions=tuple(a.mentions) if by_id else (), kind="text")

    def chat_of(self, x: Recorded) -> str | None:
        g = self.groups.get(x.action.group)
        ch = self.channels.get(x.channel)
        return (g.chat_id if g else None) or getattr(getattr(ch, "cfg", None), "chat_id", None)

    # ------------------------------------------------------------------ sending
    async def send_many(self, batch: list[Recorded]) -> list[Outcome]:
        """Send every row of ``batch`` concurrently; one Outcome per row, in any order."""
        from ..run.delivery import Job

        jobs, extra = [], []
        for x in batch:
            a = x.action
            if a.data.get("refused"):  # a template the language refused: never posted
                extra.append(_done(a.key, str(a.data["refused"])))
            elif x.channel not in self.channels:
                extra.append(_done(a.key, f"unknown channel '{x.channel}'"))
            elif a.kind == "post":
                jobs.append(Job(x.channel, self.message(x), self.budget_s))
            elif a.kind == "remind":
                extra.append(self._remind(x))
            elif a.kind in ("remove", "mute"):
                extra.append(self._member_op(x))
            else:
                extra.append(_done(a.key, f"nothing to send for {a.kind}"))

        async def posted() -> list[Outcome]:
            return [_outcome(job.msg.key, res)
                    async for job, res in self.dispatcher.stream(jobs)]

        results = await asyncio.gather(posted(), *extra)
        return list(results[0]) + list(results[1:])

    async def _remind(self, x: Recorded) -> Outcome:
        ch = self.channels[x.channel]
        rem = ch.reminder if ch.type != "remind" else ch
        msg = self.message(x)
        to = x.action.data.get("to")
        note = rem.to_staff(msg, f"[{msg.group_name}] {msg.text}", str(to) if to else None)
        try:
            res = await rem.post(note, str(to) if to else None)
        except Exception as exc:  # a bug must not leave the row hanging
            return Outcome(x.action.key, "uncertain", f"internal error: {type(exc).__name__}")
        return _outcome(x.action.key, res)

    async def _member_op(self, x: Recorded) -> Outcome:
        """banChatMember / restrictChatMember through the channel; a 429 waits its
        ``retry_after`` (at most :data:`MEMBER_OP_ATTEMPTS` tries)."""
        from ..run.channels.base import SendResult

        a = x.action
        ch = self.channels[x.channel]
        chat = self.chat_of(x)
        if not chat:
            return Outcome(a.key, "failed", "no chat_id for this group", attempts=0)
        op = ch.remove_member if a.kind == "remove" else ch.mute_member
        res: SendResult = SendResult("failed", "not tried", attempts=0)
        for attempt in range(1, MEMBER_OP_ATTEMPTS + 1):
            try:
                res = await op(str(chat), a.member or "")
            except Exception as exc:
                return Outcome(a.key, "uncertain", f"internal error: {type(exc).__name__}")
            res.attempts = attempt
            if res.status != "retry":
                break
            await asyncio.sleep(min(10.0, res.retry_after or 1.0))
        return _outcome(a.key, res)

    async def aclose(self) -> None:
        await self.dispatcher.aclose()
        for ch in self.channels.values():  # reminder consoles built for these channels
            rem = getattr(ch, "reminder", None)
            if rem is not None:
                await rem.target.aclose()
        if self.client is not None:
            await self.client.aclose()


async def _done(key: str, reason: str) -> Outcome:
    return Outcome(key, "failed", reason, attempts=0)


def _outcome(key: str, res: SendResult) -> Outcome:
    """The runner's mapping of a send result to a ledger outcome."""
    status = res.status if res.status != "retry" else "failed"
    resp = dict(res.response or {})
    if res.parts != 1:
        resp.setdefault("parts_posted", res.parts)
    return Outcome(key, status, res.reason, resp or None, max(1, res.attempts))
