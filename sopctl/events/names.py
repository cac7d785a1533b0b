"""Who joined, by name: WeCom's member-join callback carries only the member's id.

``externalcontact/groupchat/get`` (``need_name=1``) lists a customer group's members with
their names; it is asked through the playbook's customer-group channel (its corp token
cache, its client, its base URL), on the delivery loop where that channel lives. A
member's group nickname wins over their WeCom name. When the API refuses (no permission,
not a customer group, a timeout), the member keeps their id, as before.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import replace
from typing import Any

from ..i18n import _
from .types import Event, MemberJoined

log = logging.getLogger("sopctl.events")
CACHE_S = 60.0  # a burst of joins to one group asks once
TIMEOUT_S = 2.0  # WeCom drops a callback not answered within 5 s


class WeComNames:
    def __init__(self, channel: Any, call: Callable[[Any], Any]) -> None:
        self.channel = channel
        self.call = call  # runs a coroutine on the channel's loop, returns a Future
        self._cache: dict[str, tuple[float, dict[str, str]]] = {}

    async def fill(self, events: list[Event]) -> list[Event]:
        need: dict[str, set[str]] = {}
        for e in events:
            if isinstance(e, MemberJoined) and not e.nickname:
                need.setdefault(e.group, set()).add(e.member)
        names: dict[str, dict[str, str]] = {}
        for chat, members in need.items():
            names[chat] = await self.names(chat, members)
        return [replace(e, nickname=names.get(e.group, {}).get(e.member, ""))
                if isinstance(e, MemberJoined) and not e.nickname else e for e in events]

    async def names(self, chat: str, members: set[str]) -> dict[str, str]:
        """userid -> name for the chat (from a recent answer when it has all ``members``)."""
        hit = self._cache.get(chat)
        if hit and time.monotonic() - hit[0] < CACHE_S and members <= hit[1].keys():
            return hit[1]
        try:
            fut = self.call(self.channel.group_members(chat))
            got = await asyncio.wait_for(asyncio.wrap_future(fut), TIMEOUT_S)
        except Exception as exc:  # a timeout, the network: the ids stay
            log.warning(_("member names of {chat} not fetched: {why}").format(
                chat=chat, why=type(exc).__name__))
            return {}
        if isinstance(got, str):  # the API's refusal
            log.warning(_("member names of {chat} not fetched: {why}").format(
                chat=chat, why=got))
            return {}
        self._cache[chat] = (time.monotonic(), got)
        return got
