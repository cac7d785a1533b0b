"""DingTalk custom robot: ``POST /robot/send?access_token=T&timestamp=MS&sign=S``.

``sign = urlencode(base64(HMAC-SHA256(key = secret, msg = f"{ms}\\n{secret}")))``, valid for
an hour. text / markdown with ``at`` (``atMobiles``, ``atUserIds``, ``isAtAll``). 20 a minute
per robot; past that (130101) the robot is throttled for 10 minutes, so every sender to it
waits 600 s. 310000 (keyword, signature or IP check failed) is final.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from typing import Any
from urllib.parse import quote_plus

from ...i18n import N_
from .. import reasons as R
from ..delivery import split_text
from ._common import BaseChannel
from .base import OutMessage, SendResult

TEXT_BYTES = 20000  # not a documented figure: a conservative cut for very long texts
LOCKOUT_S = 600.0
REASONS = {310000: N_("keyword, signature or IP check failed (check the secret, keywords, IPs)"),
           300001: N_("invalid access token"), 400013: N_("group is disabled"),
           430101: N_("content contains sensitive words")}


def sign(ms: int, secret: str) -> str:
    mac = hmac.new(secret.encode(), f"{ms}\n{secret}".encode(), hashlib.sha256).digest()
    return quote_plus(base64.b64encode(mac).decode())


class DingTalkChannel(BaseChannel):
    type = "dingtalk"

    def __init__(self, *a: Any, **kw: Any) -> None:
        super().__init__(*a, **kw)
        token = self.secret("token")
        self.url = f"{self.base('https://oapi.dingtalk.com')}/robot/send?access_token={token}"
        self.signing = self.secret("secret", required=False)
        self._rkey = "dingtalk:" + hashlib.sha256(token.encode()).hexdigest()[:16]

    def parts(self, msg: OutMessage) -> list[dict[str, Any]]:
        users = [m for m in msg.mentions if not m.isdigit()]
        mobiles = [m for m in msg.mentions if m.isdigit()]
        # DingTalk places the @ where "@mobile"/"@userid" appears in the text
        tag = "".join(f"@{m} " for m in msg.mentions)
        out = []
        for i, chunk in enumerate(split_text(msg.text, TEXT_BYTES, "bytes")):
            text = tag + chunk if i == 0 else chunk
            at = {"atMobiles": mobiles, "atUserIds": users, "isAtAll": msg.mention == "all"} \
                if i == 0 else {"isAtAll": False}
            if msg.format == "markdown":
                title = chunk.strip().splitlines()[0][:30] if chunk.strip() else msg.group_name
                out.append({"msgtype": "markdown", "markdown": {"title": title, "text": text},
                            "at": at})
            else:
                out.append({"msgtype": "text", "text": {"content": text}, "at": at})
        return out

    def limits(self, part: Any) -> list:
        return self.rate(self._rkey, (20, 60.0))

    async def attempt(self, part: dict[str, Any]) -> SendResult:
        url = self.url
        if self.signing:
            ms = int(self.ctx.clock.time() * 1000)
            url += f"&timestamp={ms}&sign={sign(ms, self.signing)}"
        data, err = await self.post_json(url, part)
        if data is None:
            return err  # type: ignore[return-value]
        code = data.get("errcode")
        if code == 0:
            return SendResult("sent", response=self.clean(data))
        if code == 130101:
            return SendResult("retry", R.DINGTALK_LOCKOUT, self.clean(data),
                              retry_after=LOCKOUT_S)
        if code == -1:
            return SendResult("retry", R.DINGTALK_BUSY, self.clean(data))
        why = REASONS.get(code, data.get("errmsg", "error"))  # type: ignore[arg-type]
        return self.errcode_failed(code, data, why)


CHANNEL = DingTalkChannel
