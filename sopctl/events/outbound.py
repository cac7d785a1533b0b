"""Reactions out through the runner's channels: the same plugins, client and dispatcher.

:class:`ChannelSender` builds the channels the groups' reactions use (``make_channels``,
secrets from the environment, one shared HTTP client, one delivery context) and sends a
batch of claimed ledger rows with the runner's :class:`~sopctl.run.delivery.Dispatcher`:
rate limits, retries, splitting and the ``remind`` path are the scheduled posts' own.

- ``post``: an OutMessage to the group's chat through its channel.
- ``remind``: a message to staff (the admin mentioned) through the channel's ``remind``
  channel, else the console, as `mode: remind` slots do.
- ``remove``: Telegram ``banChatMember`` (sopctl/events/platforms.py); other platforms
  have no removal API the receiver may call, so the engine turns removals there into
  reminders before they get here.

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
    from ..run.channels.base import OutMessage, SendResult

# mentions by platform user id; elsewhere the rendered text already names the members
_MENTION_BY_ID = ("wecom-robot", "wecom-customer-group", "dingtalk", "feishu")


def used_channels(pb: Playbook, names: set[str]) -> dict[str, Any]:
    """The channel configs behind ``names``, with their reminder targets."""
    from ..run.channels import channel_configs

    return channel_configs(pb.channels, names)


class ChannelSender:
    """Sends claimed reactions; one instance per playbook, used from one event loop."""

    def __init__(self, pb: Playbook, channels: Mapping[str, Any], client: Any = None, *,
                 concurrency: int = 50, budget_s: float = 600.0):
        from ..run.delivery import Dispatcher

        self.pb = pb
        self.channels = dict(channels)
        self.client = client
        self.budget_s = budget_s
        self.dispatcher = Dispatcher(self.channels, concurrency=concurrency)
        self.groups = {g.id: g for g in (pb.groups if isinstance(pb.groups, list) else [])}

    @classmethod
    def build(cls, pb: Playbook, names: set[str], *, env: Mapping[str, str],
              state_dir: Path, concurrency: int = 50) -> ChannelSender:
        """Channels ``names`` (and their reminder targets) as the runner builds them.
        Raises SopctlError for a missing secret or an unknown channel."""
        from ..run.channels import make_channels
        from ..run.delivery import DeliveryContext, make_client

        client = make_client(concurrency=concurrency)
        chans = make_channels(used_channels(pb, names), env=env, client=client,
                              state_dir=state_dir, ctx=DeliveryContext())
        return cls(pb, chans, client, concurrency=concurrency)

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

    def reminder(self, x: Recorded) -> tuple[Any, OutMessage] | None:
        """(target channel, message) for a reminder to staff: the group channel's
        ``remind`` channel, else the console."""
        from dataclasses import replace

        from ..run.channels.remind import RemindChannel

        ch = self.channels.get(x.channel)
        if ch is None:
            return None
        target = ch.target if isinstance(ch, RemindChannel) else RemindChannel.around(ch).target
        msg = self.message(x)
        to = x.action.data.get("to")
        tcfg = getattr(target, "cfg", None)
        return target, replace(msg, key=msg.key + "#remind",
                               text=f"[{msg.group_name}] {msg.text}",
                               mentions=(str(to),) if to else (),
                               chat_id=getattr(tcfg, "chat_id", None) or msg.chat_id)

    # ------------------------------------------------------------------ sending
    async def send_many(self, batch: list[Recorded]) -> list[Outcome]:
        """Send every row of ``batch`` concurrently; one Outcome per row, in any order."""
        from ..run.delivery import Job

        jobs, extra = [], []
        for x in batch:
            a = x.action
            if a.kind == "post":
                if a.data.get("refused"):  # the template was refused: never posted
                    extra.append(_done(a.key, str(a.data["refused"])))
                elif x.channel not in self.channels:
                    extra.append(_done(a.key, f"unknown channel '{x.channel}'"))
                else:
                    jobs.append(Job(x.channel, self.message(x), self.budget_s))
            elif a.kind == "remind":
                extra.append(self._remind(x))
            elif a.kind == "remove":
                extra.append(self._remove(x))
            else:
                extra.append(_done(a.key, f"nothing to send for {a.kind}"))
        posted = self.dispatcher.run(jobs)
        results = await asyncio.gather(posted, *extra)
        out = [_outcome(job.msg.key, res) for job, res in results[0]]
        return out + list(results[1:])

    async def _remind(self, x: Recorded) -> Outcome:
        got = self.reminder(x)
        if got is None:
            return await _done(x.action.key, f"unknown channel '{x.channel}'")
        target, msg = got
        res = await target.send(msg, deadline=None)
        res.response = {**res.response, "mode": "remind", "via": target.name}
        return _outcome(x.action.key, res)

    async def _remove(self, x: Recorded) -> Outcome:
        from ..run.channels.base import SendResult
        from .platforms import telegram_ban

        a = x.action
        ch = self.channels.get(x.channel)
        g = self.groups.get(a.group)
        chat = (g.chat_id if g else None) or getattr(getattr(ch, "cfg", None), "chat_id", None)
        if ch is None or ch.type != "telegram":
            kind = ch.type if ch is not None else f"unknown channel '{x.channel}'"
            return Outcome(a.key, "failed", f"{kind} has no member removal API", attempts=0)
        if not chat:
            return Outcome(a.key, "failed", "no chat_id for this Telegram group", attempts=0)
        res: SendResult = SendResult("failed", "not tried", attempts=0)
        for attempt in range(1, 4):
            res = await telegram_ban(ch, str(chat), a.member or "")
            res.attempts = attempt
            if res.status != "retry":
                break
            await asyncio.sleep(min(10.0, res.retry_after or 1.0))
        return _outcome(a.key, res)

    async def aclose(self) -> None:
        await self.dispatcher.aclose()
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
