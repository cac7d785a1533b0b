"""Slack incoming webhook: ``POST`` JSON ``{"text": ...}`` to the webhook URL (a secret).

About one message a second; HTTP 429 with ``Retry-After``. Success is HTTP 200 with the
body ``ok``; errors are plain-text bodies (``invalid_payload``, ``channel_is_archived``...).
"""

from __future__ import annotations

import hashlib
from typing import Any

from ..delivery import split_text
from ._common import BaseChannel
from .base import OutMessage, SendResult

TEXT_CHARS = 40000  # Slack truncates beyond this


class SlackChannel(BaseChannel):
    type = "slack"

    def __init__(self, *a: Any, **kw: Any) -> None:
        super().__init__(*a, **kw)
        self.url = self.secret_url()
        self._rkey = "slack:" + hashlib.sha256(self.url.encode()).hexdigest()[:16]

    def parts(self, msg: OutMessage) -> list[dict[str, Any]]:
        head = "<!channel> " if msg.mention == "all" else ""
        head += "".join(f"<@{m}> " for m in msg.mentions)
        return [{"text": head + c if i == 0 else c, "mrkdwn": msg.format == "markdown"}
                for i, c in enumerate(split_text(msg.text, TEXT_CHARS - len(head)))]

    def limits(self, part: Any) -> list:
        return self.rate(self._rkey, (1, 1.0))

    async def attempt(self, part: dict[str, Any]) -> SendResult:
        resp, err = await self.post_checked(self.url, body=part)
        if resp is None:
            return err  # type: ignore[return-value]
        body = resp.text.strip()
        if resp.status_code == 200 and body == "ok":
            return SendResult("sent", response={"status": 200, "body": "ok"})
        if resp.status_code == 200:
            return SendResult("uncertain", self.redact(f"HTTP 200 with unexpected body "
                                                       f"{body[:100]!r}"))
        return SendResult("failed", self.redact(f"HTTP {resp.status_code}: {body[:200]}"),
                          {"status": resp.status_code, "body": self.redact(body[:200])})


CHANNEL = SlackChannel
