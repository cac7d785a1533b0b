"""Discord webhook: ``POST /webhooks/ID/TOKEN?wait=true`` (without ``wait`` a rejected
message can come back without an error).

content ≤ 2000 characters (split); 429 with JSON ``retry_after`` (float seconds); the
``X-RateLimit-Remaining``/``Reset-After`` headers are obeyed; a 404 means the webhook was
deleted: it fails and is not used again (many 401/403/429s get a webhook banned).
"""

from __future__ import annotations

import contextlib
import hashlib
from typing import Any

from .. import reasons as R
from ..delivery import split_text
from ._common import BaseChannel
from .base import OutMessage, SendResult

CONTENT_CHARS = 2000


class DiscordChannel(BaseChannel):
    type = "discord"

    def __init__(self, *a: Any, **kw: Any) -> None:
        super().__init__(*a, **kw)
        url = self.secret_url()
        self.url = url + ("&" if "?" in url else "?") + "wait=true"
        self._rkey = "discord:" + hashlib.sha256(url.encode()).hexdigest()[:16]
        self.dead: str | None = None

    def parts(self, msg: OutMessage) -> list[dict[str, Any]]:
        head = "@everyone " if msg.mention == "all" else ""
        users = [m for m in msg.mentions if m.isdigit()]
        head += "".join(f"<@{m}> " if m.isdigit() else f"@{m} " for m in msg.mentions)
        out = []
        for i, c in enumerate(split_text(msg.text, CONTENT_CHARS - len(head))):
            allowed: dict[str, Any] = {"parse": []}
            if i == 0:
                if msg.mention == "all":
                    allowed["parse"] = ["everyone"]
                if users:
                    allowed["users"] = users
            out.append({"content": head + c if i == 0 else c, "allowed_mentions": allowed})
        return out

    def limits(self, part: Any) -> list:
        return self.rate(self._rkey, (5, 2.0))

    async def attempt(self, part: dict[str, Any]) -> SendResult:
        if self.dead:
            return SendResult("failed", self.dead)
        resp, err = await self.post(self.url, body=part)
        if err:
            return err
        assert resp is not None
        data = self.json_body(resp) or {}
        if resp.headers.get("X-RateLimit-Remaining") == "0":
            with contextlib.suppress(ValueError):
                self.ctx.limiter.penalize(  # type: ignore[union-attr]
                    self._rkey, float(resp.headers.get("X-RateLimit-Reset-After", "1")))
        code = resp.status_code
        if code == 429:
            ra = data.get("retry_after")
            return SendResult("retry", R.HTTP_429_GLOBAL if data.get("global") else R.HTTP_429,
                self.clean(data),
                retry_after=float(ra) if isinstance(ra, int | float) else None)
        if code == 404:
            self.dead = "webhook not found (404): deleted; not used again until reconfigured"
            return SendResult("failed", self.dead, self.clean(data))
        if (r := self.http_status(resp)) is not None:
            return r
        if 200 <= code < 300:
            if code == 200 and "id" not in data:
                return SendResult("uncertain", R.DISCORD_NO_MESSAGE)
            return SendResult("sent", response={"id": data.get("id"),
                                                "channel_id": data.get("channel_id")})
        why = data.get("message", resp.text[:200])
        return SendResult("failed", self.redact(R.HTTP_BODY.format(code=code, body=why)),
                          self.clean(data))


CHANNEL = DiscordChannel
