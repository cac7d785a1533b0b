from __future__ import annotations

import asyncio
import random
from pathlib import Path
from typing import Any

import pytest

from sopctl.playbook.model import Channel as ChannelCfg
from sopctl.run.channels import make_channel
from sopctl.run.channels.base import OutMessage
from sopctl.run.delivery import DeliveryContext, RetryPolicy
from tests.fakes.fixtures import start_fake, vclock  # noqa: F401


@pytest.fixture
def build(vclock, tmp_path: Path) -> Any:  # noqa: F811
    """build(type, env={...}, **cfg) → a channel on the virtual clock, its own ctx."""

    def _build(type_: str, *, env: dict[str, str] | None = None, ctx: DeliveryContext | None
               = None, channels: dict | None = None, name: str = "ch", **cfg: Any) -> Any:
        ctx = ctx or DeliveryContext(clock=vclock, rng=random.Random(3),
                                     policy=RetryPolicy(max_attempts=8))
        ch = make_channel(name, ChannelCfg(type=type_, **cfg), env=env or {}, client=None,
                          state_dir=tmp_path, ctx=ctx, channels=channels)
        return ch

    return _build


def send_all(ch: Any, msgs: list[OutMessage], *, concurrent: bool = True,
             deadline: float | None = None) -> list[Any]:
    """Send ``msgs`` through ``ch`` in one event loop, then close the channel's client."""

    async def main() -> list[Any]:
        try:
            if concurrent:
                return list(await asyncio.gather(*(ch.send(m, deadline=deadline)
                                                   for m in msgs)))
            return [await ch.send(m, deadline=deadline) for m in msgs]
        finally:
            await ch.aclose()
            target = getattr(ch, "target", None) or getattr(ch, "reminder", None)
            if target is not None:
                await target.aclose()

    return asyncio.run(main())


def msg(text: str = "早上好！今天也要元气满满 ☀️", n: int = 0, **kw: Any) -> OutMessage:
    base = dict(key=f"g{n:03d}/morning/2026-11-24/0", group_id=f"g{n:03d}",
                group_name=f"美肌福利群{n:03d}", chat_id=None, text=text)
    base.update(kw)
    return OutMessage(**base)  # type: ignore[arg-type]
