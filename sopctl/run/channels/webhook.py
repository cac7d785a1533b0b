"""Generic webhook: a JSON POST signed with ``X-Sopctl-Signature: sha256=<hex HMAC-SHA256>``
of the exact body bytes, plus ``X-Sopctl-Timestamp`` (epoch seconds, also in the body, so a
receiver can refuse replays) and ``Idempotency-Key`` (the ledger key)."""

from __future__ import annotations

import hashlib
import hmac
import json
from typing import Any

from ...i18n import _
from ..secrets import resolve_secret
from ._common import BaseChannel
from .base import OutMessage, SendResult


def sign(secret: str, body: bytes) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


class WebhookChannel(BaseChannel):
    type = "webhook"

    def __init__(self, *a: Any, **kw: Any) -> None:
        super().__init__(*a, **kw)
        url = self.cfg.url
        if not url:
            raise _missing(self.name, "url")
        if url.startswith(("${", "file:")):
            url = resolve_secret(url, self.env, channel=self.name, field="url")
            self._secrets.append(url)
        if self.cfg.base_url:  # keep the path, swap the host
            from urllib.parse import urlsplit

            u = urlsplit(url)
            url = self.cfg.base_url.rstrip("/") + (u.path or "/") + (f"?{u.query}" if u.query
                                                                       else "")
        self.url = url
        self.signing = self.secret("secret", required=False)

    def limits(self, part: Any) -> list:
        return self.rate(f"webhook:{self.url}") if self.cfg.rate_per_minute else []

    async def attempt(self, part: OutMessage) -> SendResult:
        ts = int(self.ctx.clock.time())
        body = {"key": part.key, "group_id": part.group_id, "group_name": part.group_name,
                "chat_id": part.chat_id, "text": part.text, "format": part.format,
                "mention": part.mention, "mentions": list(part.mentions),
                "attachments": list(part.attachments), "kind": part.kind, "timestamp": ts}
        raw = json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode()
        headers = {"Content-Type": "application/json; charset=utf-8",
                   "X-Sopctl-Timestamp": str(ts), "Idempotency-Key": part.key}
        if self.signing:
            headers["X-Sopctl-Signature"] = sign(self.signing, raw)
        resp, err = await self.post_checked(self.url, content=raw, headers=headers)
        if resp is None:
            return err  # type: ignore[return-value]
        data = self.json_body(resp) or {}
        if 200 <= resp.status_code < 300:
            if data.get("ok") is False or data.get("error"):
                return SendResult("failed", self.redact(f"receiver refused: {data}"),
                                  self.clean(data))
            return SendResult("sent", response=self.clean(data) or {"status": resp.status_code})
        return SendResult("failed", self.redact(f"HTTP {resp.status_code}: {resp.text[:200]}"),
                          self.clean(data))


def _missing(name: str, field: str) -> Exception:
    from ...errors import SopctlError

    return SopctlError(_("channel '{name}': `{field}` is required").format(name=name, field=field))


CHANNEL = WebhookChannel
