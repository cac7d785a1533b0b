"""Telegram Bot API: ``POST /bot<TOKEN>/sendMessage`` with ``chat_id``, ``text``,
``parse_mode``.

text ≤ 4096 characters (counted in UTF-16 units, as Telegram does: split); 1 message a second
and 20 a minute per group, ~30 a second per bot; 429 with ``parameters.retry_after``. When a
group became a supergroup the answer carries ``parameters.migrate_to_chat_id``: the message
is sent again to the new id at once and the new id is reported in the result's response
(``migrated_to_chat_id``) so that the runner can record it.
"""

from __future__ import annotations

import hashlib
from typing import Any

from .. import reasons as R
from ..delivery import split_text
from ._common import BaseChannel
from .base import OutMessage, SendResult

TEXT_UNITS = 4096


class TelegramChannel(BaseChannel):
    type = "telegram"

    def __init__(self, *a: Any, **kw: Any) -> None:
        super().__init__(*a, **kw)
        token = self.secret("token")
        self.url = f"{self.base('https://api.telegram.org')}/bot{token}/sendMessage"
        self._bot = hashlib.sha256(token.encode()).hexdigest()[:16]
        self.migrated: dict[str, str] = {}

    def parts(self, msg: OutMessage) -> list[dict[str, Any]]:
        chat = msg.chat_id or self.cfg.chat_id
        if not chat:
            raise ValueError(R.TELEGRAM_NO_CHAT)
        head = "".join(f"@{m.lstrip('@')} " for m in msg.mentions)  # Telegram has no @all
        out = []
        for i, c in enumerate(split_text(msg.text, TEXT_UNITS - len(head), "utf16")):
            p: dict[str, Any] = {"chat_id": chat, "text": head + c if i == 0 else c}
            if msg.format == "markdown":
                p["parse_mode"] = "Markdown"
            out.append(p)
        return out

    def limits(self, part: Any) -> list:
        chat = f"telegram:{self._bot}:{part['chat_id']}"
        if self.cfg.rate_per_minute:
            return self.rate(chat)
        from ..ratelimit import Limit

        return [Limit(chat, 1, 1.0), Limit(chat, 20, 60.0), Limit(f"telegram:{self._bot}", 30, 1.0)]

    async def attempt(self, part: dict[str, Any]) -> SendResult:
        body = dict(part)
        old = str(body["chat_id"])
        body["chat_id"] = self.migrated.get(old, body["chat_id"])
        for _ in range(2):
            resp, err = await self.post(self.url, body=body)
            if err:
                return err
            assert resp is not None
            data = self.json_body(resp)
            if data is None or "ok" not in data:
                if (r := self.http_status(resp)) is not None:
                    return r
                return SendResult("uncertain" if resp.status_code == 200 else "failed",
                                  R.TELEGRAM_NO_ANSWER.format(code=resp.status_code))
            params = data.get("parameters") or {}
            if data["ok"]:
                result = data.get("result") or {}
                out = {"message_id": result.get("message_id"), "chat_id": body["chat_id"]}
                if str(body["chat_id"]) != old:
                    out["migrated_to_chat_id"] = body["chat_id"]
                return SendResult("sent", response=out)
            if "migrate_to_chat_id" in params and str(body["chat_id"]) == old:
                new = params["migrate_to_chat_id"]
                self.migrated[old] = new
                body["chat_id"] = new  # refused, nothing posted: resend to the supergroup
                continue
            desc = self.redact(str(data.get("description", "error")))
            if data.get("error_code") == 429 or resp.status_code == 429:
                ra = params.get("retry_after")
                return SendResult("retry", R.TELEGRAM_429.format(desc=desc), self.clean(data),
                                  retry_after=float(ra) if ra is not None else None)
            if resp.status_code >= 500:
                return self.http_status(resp) or SendResult("uncertain", desc)
            return SendResult("failed", R.TELEGRAM_ERROR.format(code=data.get("error_code"),
                                                            desc=desc), self.clean(data))
        return SendResult("failed", R.TELEGRAM_MIGRATED, {})

    # -- member operations: the ladder's `remove` and `mute` steps
    async def remove_member(self, chat_id: str, member: str) -> SendResult:
        """``banChatMember``: out of the group, and kept out."""
        return await self._admin("banChatMember", chat_id, member, {"revoke_messages": False})

    async def mute_member(self, chat_id: str, member: str) -> SendResult:
        """``restrictChatMember`` without the right to send, for :data:`MUTE_S` seconds."""
        until = int(self.ctx.clock.time() + MUTE_S)
        return await self._admin("restrictChatMember", chat_id, member, {
            "permissions": {p: False for p in MUTED}, "until_date": until,
            "use_independent_chat_permissions": True})

    async def _admin(self, method: str, chat_id: str, member: str,
                     extra: dict[str, Any]) -> SendResult:
        try:
            uid: int | str = int(member)
        except ValueError:
            return SendResult("failed", R.TELEGRAM_USER_ID.format(member=repr(member)),
                              parts=0, attempts=0)
        url = self.url.rsplit("/", 1)[0] + "/" + method
        resp, err = await self.post(url, body={"chat_id": chat_id, "user_id": uid, **extra})
        if err is not None:
            return err
        assert resp is not None
        data = self.json_body(resp)
        if data is None or "ok" not in data:
            return self.http_status(resp) or SendResult(
                "uncertain" if resp.status_code == 200 else "failed",
                R.TELEGRAM_NO_ANSWER.format(code=resp.status_code))
        if data["ok"]:
            return SendResult("sent", response={"method": method, "user_id": uid,
                                                "chat_id": chat_id})
        desc = self.redact(str(data.get("description", "error")))
        if data.get("error_code") == 429 or resp.status_code == 429:
            ra = (data.get("parameters") or {}).get("retry_after")
            return SendResult("retry", R.TELEGRAM_429.format(desc=desc), self.clean(data),
                              retry_after=float(ra) if ra is not None else None)
        return SendResult("failed", R.TELEGRAM_ERROR.format(code=data.get("error_code"),
                                                            desc=desc), self.clean(data))


MUTE_S = 24 * 3600  # a mute lasts a day; the next offence climbs the ladder again
MUTED = ("can_send_messages", "can_send_audios", "can_send_documents", "can_send_photos",
         "can_send_videos", "can_send_video_notes", "can_send_voice_notes", "can_send_polls",
         "can_send_other_messages", "can_add_web_page_previews")

CHANNEL = TelegramChannel
