"""What every channel shares: the delivery loop hookup, HTTP posting, error classes, redaction.

A channel module subclasses :class:`BaseChannel`, which implements the protocol of
``base.Channel``, and supplies ``attempt(part)`` (one try, classified as sent / retry /
failed / uncertain), and where the platform needs it ``parts(msg)`` (payloads after
splitting), ``limits(part)`` (its rate windows) and the member operations.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .. import reasons as R
from ..secrets import redact, resolve_secret
from .base import OutMessage, SendResult

if TYPE_CHECKING:
    import httpx

    from ...playbook.model import Channel as ChannelCfg
    from ..delivery import DeliveryContext
    from ..ratelimit import Limit


class BaseChannel:
    type = "?"
    idempotent = False
    paced = True  # send() goes through delivery.deliver

    def __init__(self, name: str, cfg: ChannelCfg, *, env: Mapping[str, str],
                 client: httpx.AsyncClient | None, state_dir: Path,
                 ctx: DeliveryContext | None = None) -> None:
        from ..delivery import DeliveryContext

        self.name, self.cfg, self.env, self.state_dir = name, cfg, env, state_dir
        self.ctx = ctx or DeliveryContext()
        self._client = client
        self._own_client = client is None
        self._secrets: list[str] = []
        # the RemindChannel that carries "remind" messages: set by make_channel (to the
        # channel's `remind` channel, else the console)
        self.reminder: Any = None

    # -- secrets
    def secret(self, field: str, required: bool = True) -> str | None:
        value = getattr(self.cfg, field)
        if value is None and not required:
            return None
        got = resolve_secret(value, self.env, channel=self.name, field=field)
        if got not in self._secrets:  # resolved on every send; remember each once
            self._secrets.append(got)
        return got

    def redact(self, text: str) -> str:
        return redact(text, self._secrets)

    def base(self, default: str) -> str:
        return (self.cfg.base_url or default).rstrip("/")

    def secret_url(self) -> str:
        """A webhook URL that embeds its token: from ${ENV} or a file; ``base_url`` swaps the
        scheme and host, keeping the path."""
        from urllib.parse import urlsplit

        url = self.secret("url")
        assert url is not None
        if self.cfg.base_url:
            u = urlsplit(url)
            url = self.cfg.base_url.rstrip("/") + u.path + (f"?{u.query}" if u.query else "")
        return url

    # -- the delivery loop
    def parts(self, msg: OutMessage) -> list[Any]:
        return [msg]

    def limits(self, part: Any) -> Sequence[Limit]:
        return ()

    def rate(self, key: str, *windows: tuple[int, float]) -> list[Limit]:
        """The platform's windows, or the playbook's ``rate_per_minute`` when set."""
        from ..ratelimit import Limit

        if self.cfg.rate_per_minute:
            n = max(1, int(self.cfg.rate_per_minute))
            return [Limit(key, n, 60.0)]
        return [Limit(key, c, p) for c, p in windows]

    async def attempt(self, part: Any) -> SendResult:
        raise NotImplementedError

    async def send(self, msg: OutMessage, *, deadline: float | None = None) -> SendResult:
        from ..delivery import deliver

        if msg.remind_to or msg.delivery == "remind":
            if self.reminder is None:  # wired by make_channel; a bare channel cannot remind
                return SendResult("failed", R.NO_REMINDER.format(name=self.name),
                                  parts=0, attempts=0)
            return await self.reminder.send(msg, deadline=deadline)
        return await deliver(self, msg, self.ctx, deadline)

    # -- member operations (the event receiver's ladder); most platforms have no API
    async def remove_member(self, chat_id: str, member: str) -> SendResult:
        return SendResult("failed", R.NO_REMOVAL.format(platform=self.type), parts=0,
                          attempts=0)

    async def mute_member(self, chat_id: str, member: str) -> SendResult:
        return SendResult("failed", R.NO_MUTE.format(platform=self.type), parts=0,
                          attempts=0)

    # -- HTTP
    @property
    def client(self) -> httpx.AsyncClient:
        if self._client is None:
            from ..delivery import make_client

            self._client = make_client(concurrency=20, timeout=self.cfg.timeout)
        return self._client

    async def aclose(self) -> None:
        if self._own_client and self._client is not None:
            await self._client.aclose()
            self._client = None

    async def post(self, url: str, *, body: Any = None, content: bytes | None = None,
                   headers: Mapping[str, str] | None = None,
                   method: str = "POST") -> tuple[httpx.Response | None, SendResult | None]:
        """One request. Returns (response, None), or (None, result) when it never completed:
        ``retry`` if it surely did not leave, ``uncertain`` if it may have been received."""
        import httpx

        hdrs = dict(headers or {})
        if body is not None:
            content = json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode()
            hdrs.setdefault("Content-Type", "application/json; charset=utf-8")
        try:
            resp = await self.client.request(method, url, content=content, headers=hdrs,
                                             timeout=self.cfg.timeout)
        except (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout) as e:
            return None, SendResult("retry", self.redact(R.NOT_SENT.format(
                error=f"{type(e).__name__}: {e}")))
        except httpx.TransportError as e:  # read timeout, reset after sending...
            return None, SendResult("uncertain", self.redact(
                R.OUTCOME_UNKNOWN.format(error=type(e).__name__)))
        return resp, None

    async def post_checked(self, url: str, **kw: Any) -> tuple[httpx.Response | None,
                                                               SendResult | None]:
        """:meth:`post`, then :meth:`http_status`: (response, None) when the body must
        decide, else (None, the result)."""
        resp, err = await self.post(url, **kw)
        if err:
            return None, err
        assert resp is not None
        if (r := self.http_status(resp)) is not None:
            return None, r
        return resp, None

    async def post_json(self, url: str, body: Any, *, no_json: str | None = None
                        ) -> tuple[dict[str, Any] | None, SendResult | None]:
        """For platforms answering errors inside a JSON body (errcode): (body, None), or
        (None, the result). A body that is not JSON is ``uncertain`` after HTTP 200 (it may
        have been posted), else ``failed``; ``no_json`` forces one status."""
        resp, err = await self.post_checked(url, body=body)
        if err:
            return None, err
        assert resp is not None
        data = self.json_body(resp)
        if data is None:
            status = no_json or ("uncertain" if resp.status_code == 200 else "failed")
            return None, SendResult(status, R.NO_JSON.format(code=resp.status_code))
        return data, None

    def errcode_failed(self, code: Any, data: Mapping[str, Any], why: Any) -> SendResult:
        """A refusal that retrying will not fix, with the platform's answer kept (redacted)."""
        return SendResult("failed", self.redact(R.ERRCODE.format(code=code, why=why)),
                          self.clean(data))

    def http_status(self, resp: httpx.Response) -> SendResult | None:
        """Common HTTP statuses; None when the body must decide."""
        code = resp.status_code
        if code == 429:
            return SendResult("retry", R.HTTP_429,
                              retry_after=_retry_after(resp.headers.get("Retry-After")))
        if code in (500, 503):  # the server said it failed: not posted
            return SendResult("retry", R.HTTP_STATUS.format(code=code),
                              retry_after=_retry_after(resp.headers.get("Retry-After")))
        if code in (502, 504) or code >= 505:  # a gateway may have passed it on
            return SendResult("uncertain", R.GATEWAY.format(code=code))
        return None

    def json_body(self, resp: httpx.Response) -> dict[str, Any] | None:
        try:
            data = resp.json()
        except ValueError:
            return None
        return data if isinstance(data, dict) else {"value": data}

    def clean(self, data: Mapping[str, Any] | None) -> dict[str, Any]:
        """A response for the ledger, with every secret removed."""
        if not data:
            return {}
        return json.loads(self.redact(json.dumps(data, ensure_ascii=False)))


def _retry_after(value: str | None) -> float | None:
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        from email.utils import parsedate_to_datetime

        try:
            import time

            return max(0.0, parsedate_to_datetime(value).timestamp() - time.time())
        except (TypeError, ValueError):
            return None
