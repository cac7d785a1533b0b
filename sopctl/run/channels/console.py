"""Console channel: prints the group and the text (CJK rendered by rich)."""

from __future__ import annotations

from typing import Any

from ._common import BaseChannel
from .base import OutMessage, SendResult


class ConsoleChannel(BaseChannel):
    type = "console"
    idempotent = True
    out: Any = None  # a rich Console; the shared stdout console when None

    async def attempt(self, part: OutMessage) -> SendResult:
        from rich.markup import escape

        from ...console import console

        out = self.out or console()
        who = ""
        if part.mention == "all":
            who = " @all"
        if part.mentions:
            who += " " + " ".join(f"@{m}" for m in part.mentions)
        head = f"[bold cyan]{escape(part.group_name or part.group_id)}[/]"
        # one call for both lines: each call costs rich a terminal probe and a render
        out.print(f"{head}{escape(who)} [dim]({escape(self.name)})[/]\n{escape(part.text)}")
        return SendResult("sent", response={"channel": "console"})


CHANNEL = ConsoleChannel
