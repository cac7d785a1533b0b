"""Feishu / Lark custom bot: ``POST /open-apis/bot/v2/hook/TOKEN``.

Optional signing: ``timestamp`` (seconds) and ``sign = base64(HMAC-SHA256(key =
f"{timestamp}\\n{secret}", msg = b""))`` in the body. Body ≤ 20 KB (longer texts are split),
5 a second and 100 a minute per bot; 11232 throttled (retried), 19021 bad signature or stale
timestamp (failed). Posts never go out in the first seconds after :00 or :30, when every bot
in China fires and the platform throttles.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from typing import Any

from ...i18n import N_
from .. import reasons as R
from ..delivery import split_text
from ._common import BaseChannel
from .base import OutMessage, SendResult

BODY_BYTES = 20 * 1024
REASONS = {19021: N_("signature mismatch or timestamp too far from the platform's clock (check "
                  "the secret and NTP)"), 19022: N_("this IP is not allowed"),
           19024: N_("the message lacks the bot's required keyword"), 9499: N_("bad request")}
AVOID_S = 2.0  # seconds after :00 and :30 to stay clear of


def sign(timestamp: int, secret: str) -> str:
    key = f"{timestamp}\n{secret}".encode()
    return base64.b64encode(hmac.new(key, b"", hashlib.sha256).digest()).decode()


def _json_size(s: str) -> int:
    return len(json.dumps(s, ensure_ascii=False).encode())


class FeishuChannel(BaseChannel):
    type = "feishu"

    def __init__(self, *a: Any, **kw: Any) -> None:
        super().__init__(*a, **kw)
        token = self.secret("token")
        self.url = f"{self.base('https://open.feishu.cn')}/open-apis/bot/v2/hook/{token}"
        self.signing = self.secret("secret", required=False)
        self._rkey = "feishu:" + hashlib.sha256(token.encode()).hexdigest()[:16]

    def parts(self, msg: OutMessage) -> list[dict[str, Any]]:
        head = ""
        if msg.mention == "all":
            head = '<at user_id="all">所有人</at> '
        head += "".join(f'<at user_id="{m}"></at> ' for m in msg.mentions)
        budget = BODY_BYTES - 400 - _json_size(head)  # envelope, timestamp and sign
        out = []
        for i, chunk in enumerate(split_text(msg.text, budget, _json_size)):
            text = head + chunk if i == 0 else chunk
            if msg.format == "markdown":
                out.append({"msg_type": "interactive", "card": {
                    "elements": [{"tag": "markdown", "content": text}]}})
            else:
                out.append({"msg_type": "text", "content": {"text": text}})
        return out

    def limits(self, part: Any) -> list:
        return self.rate(self._rkey, (5, 1.0), (100, 60.0))

    async def _off_peak(self) -> None:
        clock = self.ctx.clock
        sec = clock.time() % 30.0
        if sec < AVOID_S:
            await clock.sleep(AVOID_S - sec + self.ctx.rng.uniform(0.5, 3.0))

    async def attempt(self, part: dict[str, Any]) -> SendResult:
        await self._off_peak()
        body = dict(part)
        if self.signing:
            ts = int(self.ctx.clock.time())
            body["timestamp"], body["sign"] = str(ts), sign(ts, self.signing)
        resp, err = await self.post(self.url, body=body)
        if err:
            return err
        assert resp is not None
        data = self.json_body(resp)
        if data is None or ("code" not in data and "StatusCode" not in data):
            if (r := self.http_status(resp)) is not None:
                return r
            return SendResult("uncertain" if resp.status_code == 200 else "failed",
                              R.FEISHU_NO_ANSWER.format(code=resp.status_code))
        code = data.get("code", data.get("StatusCode"))
        if code == 0:
            return SendResult("sent", response=self.clean(data))
        if code == 11232 or resp.status_code == 429:
            return SendResult("retry", R.FEISHU_THROTTLED.format(code=code), self.clean(data),
                              retry_after=_float(resp.headers.get("Retry-After")))
        why = REASONS.get(code, data.get("msg", "error"))  # type: ignore[arg-type]
        return SendResult("failed", self.redact(f"code {code}: {why}"), self.clean(data))


def _float(v: str | None) -> float | None:
    try:
        return float(v) if v else None
    except ValueError:
        return None


CHANNEL = FeishuChannel
