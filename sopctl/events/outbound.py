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

from ..run import reasons as R
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
        self.pb = pb
        self.channels = dict(channels)
        for name, ch in channels.items():  # reminders are jobs for the reminder's target
            rem = ch if ch.type == "remind" else ch.reminder
            if rem is not None:
                self.channels.setdefault(f"{name}:remind", rem.target)
        self.client = client
        self.ctx = ctx
        self.budget_s = budget_s
        self.concurrency = concurrency
        self.groups = {g.id: g for g in (pb.groups if isinstance(pb.groups, list) else [])}
        self.use_gate(None)

    def use_gate(self, gate: Any) -> None:
        """Send through a dispatcher whose gate (``burst.LedgerGate``) flips each row to
        ``sending`` right before its first request and records its result."""
        from ..run.delivery import Dispatcher

        self.dispatcher = Dispatcher(self.channels, concurrency=self.concurrency, gate=gate)

    @classmethod
    def build(cls, pb: Playbook, names: set[str], *, env: Mapping[str, str],
              state_dir: Path, concurrency: int = 50) -> ChannelSender:
        """Channels ``names`` (and their reminder targets) as the runner builds them.
        Raises SopctlError for a missing secret or an unknown channel."""
        from ..run.channels import channel_configs, make_channels
        from ..run.delivery import make_client
        from ..run.hostlimit import host_context

        client = make_client(concurrency=concurrency)
        ctx = host_context(state_dir)  # rate limits shared with every process on the host
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
    def plan(self, batch: list[Recorded]) -> tuple[list[Any], list[Recorded], list[Outcome]]:
        """(dispatcher jobs: posts and reminders, member operations, outcomes of rows that
        are never sent: a refused template, an unknown channel)."""
        from ..run.delivery import Job

        jobs, ops, final = [], [], []
        for x in batch:
            a = x.action
            if a.data.get("refused"):  # a template the language refused: never posted
                final.append(Outcome(a.key, "failed", str(a.data["refused"]), attempts=0))
            elif x.channel not in self.channels:
                final.append(Outcome(a.key, "failed", R.UNKNOWN_CHANNEL.format(name=x.channel),
                                     attempts=0))
            elif a.kind == "post":
                jobs.append(Job(x.channel, self.message(x), self.budget_s))
            elif a.kind == "remind":
                jobs.append(Job(f"{x.channel}:remind", self.note(x), self.budget_s))
            elif a.kind in ("remove", "mute"):
                ops.append(x)
            else:
                final.append(Outcome(a.key, "failed", R.NOTHING_TO_SEND.format(kind=a.kind),
                                     attempts=0))
        return jobs, ops, final

    def note(self, x: Recorded) -> OutMessage:
        """A reminder to staff (the admin mentioned) on the reminder channel."""
        from dataclasses import replace

        msg = self.message(x)
        target = self.channels[f"{x.channel}:remind"]
        to = x.action.data.get("to")
        return replace(msg, text=f"[{msg.group_name}] {msg.text}", mention="none",
                       mentions=(str(to),) if to else (), delivery="post", remind_to=None,
                       chat_id=getattr(getattr(target, "cfg", None), "chat_id", None)
                       or msg.chat_id)

    async def stream(self, jobs: list[Any]) -> Any:
        """(job, result) as each is recorded by the gate; jobs that never began (a stop)
        are not yielded and their rows stay claimed."""
        async for job, res in self.dispatcher.stream(jobs):
            yield job, res

    async def send_many(self, batch: list[Recorded]) -> list[Outcome]:
        """Without a gate: send every row and return one Outcome per row (the caller flips
        and records)."""
        jobs, ops, final = self.plan(batch)
        out = list(final)
        async for job, res in self.stream(jobs):
            out.append(_outcome(job.msg.key, res))
        out += await asyncio.gather(*(self.member_op(x) for x in ops))
        return out

    async def member_op(self, x: Recorded) -> Outcome:
        """banChatMember / restrictChatMember through the channel; a 429 waits its
        ``retry_after`` (at most :data:`MEMBER_OP_ATTEMPTS` tries)."""
        from ..run.channels.base import SendResult

        a = x.action
        ch = self.channels[x.channel]
        chat = self.chat_of(x)
        if not chat:
            return Outcome(a.key, "failed", R.NO_CHAT_ID, attempts=0)
        op = ch.remove_member if a.kind == "remove" else ch.mute_member
        res: SendResult = SendResult("failed", R.NOT_TRIED, attempts=0)
        for attempt in range(1, MEMBER_OP_ATTEMPTS + 1):
            try:
                res = await op(str(chat), a.member or "")
            except Exception as exc:
                return Outcome(a.key, "uncertain", R.INTERNAL.format(error=type(exc).__name__))
            res.attempts = attempt
            if res.status != "retry":
                break
            await asyncio.sleep(min(10.0, res.retry_after or 1.0))
        return _outcome(a.key, res)

    async def aclose(self) -> None:
        await self.dispatcher.aclose()  # reminder targets included
        if self.client is not None:
            await self.client.aclose()
        # a lease that ended just now is written to the host's store a moment later, by a
        # timer of this loop, which is about to close: written now, or every other sender
        # on the host would take its token for in flight until MAX_FLIGHT_S
        flush = getattr(getattr(self.ctx, "limiter", None), "flush", None)
        if flush is not None:
            flush()


def _outcome(key: str, res: SendResult) -> Outcome:
    """The runner's mapping of a send result to a ledger outcome."""
    status = res.status if res.status != "retry" else "failed"
    resp = dict(res.response or {})
    if res.parts != 1:
        resp.setdefault("parts_posted", res.parts)
    return Outcome(key, status, res.reason, resp or None, max(1, res.attempts))
