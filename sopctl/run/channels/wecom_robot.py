"""WeCom group robot (消息推送): ``POST /cgi-bin/webhook/send?key=KEY``.

text (≤ 2048 bytes UTF-8, ``mentioned_list`` with userids or "@all"), markdown (≤ 4096
bytes), image (base64 + md5 of the raw bytes, ≤ 2 MB), news (1-8 articles). Longer texts are
split on line boundaries, never inside a character. 20 messages a minute per robot. Errors
come back as HTTP 200 with a non-zero ``errcode``.
"""

from __future__ import annotations

import base64
import hashlib
from pathlib import Path
from typing import Any

from ...i18n import N_
from .. import reasons as R
from ..delivery import split_text
from ._common import BaseChannel
from .base import OutMessage, SendResult

TEXT_BYTES, MARKDOWN_BYTES, IMAGE_BYTES = 2048, 4096, 2 * 1024 * 1024
RETRYABLE = {45009: 60.0, -1: None, 45033: 60.0}  # rate limited / system busy / too many calls
REASONS = {40058: N_("content too long"), 93000: N_("invalid robot key (webhook url)"),
           93004: N_("robot disabled"), 93008: N_("robot not in the group"),
           40008: N_("invalid message type"), 44004: N_("empty content")}


def image_payload(att: dict[str, Any], base_dir: Path) -> dict[str, Any]:
    path = Path(att["path"]).expanduser()
    raw = (path if path.is_absolute() else base_dir / path).read_bytes()
    if len(raw) > IMAGE_BYTES:
        raise ValueError(R.IMAGE_TOO_BIG.format(path=path, size=len(raw)))
    return {"msgtype": "image", "image": {"base64": base64.b64encode(raw).decode(),
                                          "md5": hashlib.md5(raw).hexdigest()}}


def news_payload(atts: list[dict[str, Any]]) -> dict[str, Any]:
    arts = [{"title": a.get("title") or a.get("url"), "url": a["url"],
             **({"description": a["description"]} if a.get("description") else {}),
             **({"picurl": a["picurl"]} if a.get("picurl") else {})} for a in atts[:8]]
    return {"msgtype": "news", "news": {"articles": arts}}


class WeComRobotChannel(BaseChannel):
    type = "wecom-robot"

    def __init__(self, *a: Any, **kw: Any) -> None:
        super().__init__(*a, **kw)
        key = self.secret("key")
        self.url = f"{self.base('https://qyapi.weixin.qq.com')}/cgi-bin/webhook/send?key={key}"
        self._rkey = "wecom-robot:" + hashlib.sha256(key.encode()).hexdigest()[:16]

    def parts(self, msg: OutMessage) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        who = list(msg.mentions) + (["@all"] if msg.mention == "all" else [])
        if msg.text:
            if msg.format == "markdown":
                tag = "".join(f"<@{m}>" for m in msg.mentions)  # markdown has no @all
                for i, chunk in enumerate(split_text(msg.text, MARKDOWN_BYTES - len(
                        tag.encode()), "bytes")):
                    out.append({"msgtype": "markdown",
                                "markdown": {"content": (tag + chunk) if i == 0 else chunk}})
            else:
                for i, chunk in enumerate(split_text(msg.text, TEXT_BYTES, "bytes")):
                    text: dict[str, Any] = {"content": chunk}
                    if i == 0 and who:
                        text["mentioned_list"] = who
                    out.append({"msgtype": "text", "text": text})
        news = [a for a in msg.attachments if a.get("kind") in ("link", "news") and a.get("url")]
        for att in msg.attachments:
            if att.get("kind") == "image" and att.get("path"):
                try:
                    out.append(image_payload(att, self.state_dir))
                except OSError as e:
                    raise ValueError(R.IMAGE_UNREADABLE.format(path=att["path"],
                                                                why=e.strerror)) from None
        if news:
            out.append(news_payload(news))
        if not out:
            raise ValueError(R.NOTHING_IN_MESSAGE)
        return out

    def limits(self, part: Any) -> list:
        return self.rate(self._rkey, (20, 60.0))

    async def attempt(self, part: dict[str, Any]) -> SendResult:
        data, err = await self.post_json(self.url, part)
        if data is None:
            return err  # type: ignore[return-value]
        code = data.get("errcode")
        if code == 0:
            return SendResult("sent", response=self.clean(data))
        if code in RETRYABLE:
            return SendResult("retry", R.ERRCODE.format(code=code, why=data.get("errmsg", "")),
                              self.clean(data), retry_after=RETRYABLE[code])
        why = REASONS.get(code, data.get("errmsg", "error"))  # type: ignore[arg-type]
        return self.errcode_failed(code, data, why)


CHANNEL = WeComRobotChannel
