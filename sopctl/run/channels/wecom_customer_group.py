"""WeCom customer groups through ``externalcontact/add_msg_template`` (chat_type=group).

The corp access token comes from ``/cgi-bin/gettoken`` and is cached until shortly before
``expires_in``; 40014/42001 (invalid/expired token) refresh it once. Nothing reaches the group
until the sender confirms in the WeCom app, so success is ``pending-confirmation`` with the
``msgid``. A group receives about one mass message a day, so an over-long text is refused
rather than split into several templates.
"""

from __future__ import annotations

import asyncio
from typing import Any

from ...i18n import _
from .. import reasons as R
from ._common import BaseChannel
from .base import OutMessage, SendResult

TEXT_BYTES = 4000  # add_msg_template's text.content limit
TOKEN_ERRORS = {40014, 42001, 40001}
RETRYABLE = {45009: 60.0, -1: None, 45033: 60.0}


class WeComCustomerGroupChannel(BaseChannel):
    type = "wecom-customer-group"

    def __init__(self, *a: Any, **kw: Any) -> None:
        super().__init__(*a, **kw)
        self.corp_id = self.cfg.corp_id
        if not self.corp_id:
            from ...errors import SopctlError

            raise SopctlError(_("channel '{name}': `{field}` is required").format(
                name=self.name, field="corp_id"))
        self.corp_secret = self.secret("corp_secret")
        self.api = self.base("https://qyapi.weixin.qq.com") + "/cgi-bin"
        self._token: str | None = None
        self._expires = 0.0
        self._lock = asyncio.Lock()
        self.token_fetches = 0

    def parts(self, msg: OutMessage) -> list[dict[str, Any]]:
        size = len(msg.text.encode())
        if size > TEXT_BYTES:
            raise ValueError(R.CUSTOMER_TOO_LONG.format(size=size, limit=TEXT_BYTES))
        chat = msg.chat_id or self.cfg.chat_id
        if not chat:
            raise ValueError(R.CUSTOMER_NO_CHAT)
        body: dict[str, Any] = {"chat_type": "group", "sender": self.cfg.sender,
                                "chat_id_list": [chat]}
        if msg.text:
            body["text"] = {"content": msg.text}
        atts = []
        for a in msg.attachments[:9]:
            if a.get("kind") in ("link", "news") and a.get("url"):
                atts.append({"msgtype": "link", "link": {"title": a.get("title") or a["url"],
                                                         "url": a["url"],
                                                         "desc": a.get("description", "")}})
            elif a.get("kind") == "miniprogram" and a.get("appid"):
                atts.append({"msgtype": "miniprogram", "miniprogram": {
                    k: a[k] for k in ("title", "appid", "page", "pic_media_id") if k in a}})
            elif a.get("media_id"):
                atts.append({"msgtype": "image", "image": {"media_id": a["media_id"]}})
        if atts:
            body["attachments"] = atts
        if not self.cfg.sender:
            raise ValueError(R.CUSTOMER_NO_SENDER)
        return [body]

    def limits(self, part: Any) -> list:
        return self.rate(f"wecom-cg:{self.corp_id}") if self.cfg.rate_per_minute else []

    async def token(self, refresh: bool = False) -> tuple[str | None, SendResult | None]:
        async with self._lock:
            now = self.ctx.clock.monotonic()
            if self._token and not refresh and now < self._expires:
                return self._token, None
            url = (f"{self.api}/gettoken?corpid={self.corp_id}"
                   f"&corpsecret={self.corp_secret}")
            resp, err = await self.post(url, method="GET")
            if err:  # a GET: nothing was posted, always safe to retry
                return None, SendResult("retry", R.WECOM_TOKEN.format(reason=err.reason))
            assert resp is not None
            data = self.json_body(resp) or {}
            if data.get("errcode", 0) != 0 or "access_token" not in data:
                return None, SendResult("failed", self.redact(
                    f"gettoken errcode {data.get('errcode')}: {data.get('errmsg', '')}"))
            self._token = str(data["access_token"])
            self._secrets.append(self._token)
            ttl = float(data.get("expires_in", 7200))
            self._expires = now + max(ttl - min(300.0, ttl / 10), 1.0)
            self.token_fetches += 1
            return self._token, None

    async def attempt(self, part: dict[str, Any]) -> SendResult:
        for refresh in (False, True):
            token, err = await self.token(refresh)
            if err:
                return err
            url = f"{self.api}/externalcontact/add_msg_template?access_token={token}"
            data, err = await self.post_json(url, part, no_json="uncertain")
            if data is None:
                return err  # type: ignore[return-value]
            code = data.get("errcode")
            if code in TOKEN_ERRORS and not refresh:
                continue  # the token was refused before anything was created: safe to redo
            if code == 0:
                res = self.clean(data)
                if data.get("fail_list"):
                    return SendResult("failed", R.WECOM_REJECTED.format(members=data["fail_list"]),
                                      res)
                return SendResult("pending-confirmation",
                                  R.WECOM_CONFIRM, res)
            if code in RETRYABLE:
                return SendResult("retry", R.ERRCODE.format(code=code, why=data.get("errmsg", "")),
                                  self.clean(data), retry_after=RETRYABLE[code])
            return self.errcode_failed(code, data, data.get("errmsg", ""))
        raise AssertionError("unreachable")

    async def group_members(self, chat_id: str) -> dict[str, str] | str:
        """userid -> name (group nickname, else WeCom name) of a customer group's members,
        through ``externalcontact/groupchat/get`` with ``need_name=1``; a string saying why
        when the API refuses."""
        for refresh in (False, True):
            token, err = await self.token(refresh)
            if err:
                return err.reason
            url = f"{self.api}/externalcontact/groupchat/get?access_token={token}"
            resp, err = await self.post_checked(url, body={"chat_id": chat_id, "need_name": 1})
            if err:
                return err.reason
            assert resp is not None
            data = self.json_body(resp) or {}
            code = data.get("errcode")
            if code in TOKEN_ERRORS and not refresh:
                continue
            if code != 0:
                return self.redact(f"groupchat/get errcode {code}: {data.get('errmsg', '')}")
            members = (data.get("group_chat") or {}).get("member_list") or []
            return {str(m["userid"]): str(m.get("group_nickname") or m.get("name") or "")
                    for m in members if isinstance(m, dict) and m.get("userid")
                    and (m.get("group_nickname") or m.get("name"))}
        raise AssertionError("unreachable")


CHANNEL = WeComCustomerGroupChannel
