"""The receiver's guard in front of its routes: limits, the body, the access log.

An ASGI middleware (:class:`Guard`) that reads the whole body within ``body_timeout`` and
``max_body`` before any route runs, answers 408/413/400 itself, logs every request once
(:class:`AccessLog`), and turns a client that went away into a log line, never a
traceback. :class:`HttpLimits` holds every bound the server enforces.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import sys
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, TextIO

from ..i18n import N_, _

if TYPE_CHECKING:
    from .server import Receiver, Rejected

log = logging.getLogger("sopctl.events")


@dataclass(slots=True)
class HttpLimits:
    header_timeout: float = 10.0  # from the first byte of a request to the end of its head
    body_timeout: float = 10.0  # from the end of the head to the end of the body
    keep_alive: float = 5.0  # idle time between requests on one connection
    max_body: int = 1 << 20
    max_header: int = 16 * 1024  # bytes of request line and headers
    max_connections: int = 1000  # beyond it, requests are answered 503
    backlog: int = 2048
    graceful_s: float = 30.0  # how long a stop waits for requests in flight


# ----------------------------------------------------------------------------- access log

class AccessLog:
    """One line per request: JSON for machines, a translated sentence for people."""

    def __init__(self, fmt: str = "text", stream: TextIO | None = None,
                 tz: str | None = None) -> None:
        """``tz``: the playbook's zone, on whose clock text lines are stamped (UTC if None)."""
        self.fmt = fmt
        self.stream = stream
        self.tz = tz
        self._lock = threading.Lock()

    def __call__(self, rec: dict[str, Any], why: str | None = None) -> None:
        """``rec`` as JSON (its ``error`` in English), or a line in the operator's
        language, ending with ``why`` (the error in that language)."""
        out = self.stream or sys.stderr
        now = datetime.now(UTC)
        if self.fmt == "json":
            line = json.dumps({"ts": now.isoformat(timespec="milliseconds"),
                               "event": "http", **rec}, ensure_ascii=False)
        else:
            from ..timefmt import clock

            line = clock(now, self.tz, seconds=True) + " " + _(
                "{client} {method} {path} -> {status} in {ms} ms").format(
                client=rec["client"], method=rec["method"], path=rec["path"],
                status=rec["status"], ms=rec["ms"])
            if why or rec.get("error"):
                line += ": " + (why or rec["error"])
        with self._lock:
            try:
                out.write(line + "\n")
                out.flush()
            except (OSError, ValueError):  # a closed stderr must not stop the server
                pass


# ----------------------------------------------------------------------------- guard

class _TooLarge(Exception):
    pass


class _Gone(Exception):
    pass


class Guard:
    """ASGI middleware: reads the whole body within ``body_timeout`` and ``max_body`` (into
    ``scope["sopctl.body"]``), answers 408/413/400 itself, logs every request once, and
    turns a client that went away into a log line."""

    def __init__(self, app: Any, limits: HttpLimits, access: AccessLog | None,
                 metrics: Any = None, receiver: Receiver | None = None) -> None:
        self.app, self.limits, self.access, self.metrics = app, limits, access, metrics
        self.receiver = receiver

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        t0 = time.perf_counter()
        info: dict[str, Any] = {"status": 0, "bytes": 0}

        async def send_w(msg: dict) -> None:
            if msg["type"] == "http.response.start":
                info["status"] = msg["status"]
            elif msg["type"] == "http.response.body":
                info["bytes"] += len(msg.get("body", b""))
            await send(msg)

        try:
            refused = await self._read_body(scope, receive)
            if refused is not None:
                info["error"], info["why"] = refused.reason, refused.human()
                if self.receiver is not None:
                    self.receiver.rejected += 1
                if self.metrics is not None:
                    self.metrics.refused(scope.get("path", ""), refused.status)
                await _plain(send_w, refused.status, refused.reason, close=True)
            else:
                await self.app(scope, _replay(receive), send_w)
        except _Gone:
            info["status"] = 499  # nginx's "client closed request"
            info["error"], info["why"] = "client went away", _("client went away")
        except Exception as exc:  # a bug: answer 500, log one line, keep serving
            log.error(_("error handling {method} {path}: {why}").format(
                method=scope.get("method"), path=scope.get("path"),
                why=f"{type(exc).__name__}: {exc}"))
            info["error"] = f"internal error: {type(exc).__name__}"
            info["why"] = _("internal error: {name}").format(name=type(exc).__name__)
            if not info["status"]:
                with contextlib.suppress(Exception):
                    await _plain(send_w, 500, "internal error", close=True)
        self._log(scope, info, time.perf_counter() - t0)

    async def _read_body(self, scope: dict, receive: Any) -> Rejected | None:
        from .server import Rejected

        lim = self.limits
        cl = _header(scope, b"content-length")
        if cl is not None:
            if not cl.isdigit():
                return Rejected(400, N_("bad Content-Length"))
            if int(cl) > lim.max_body:
                return Rejected(413, N_("body of {n} bytes exceeds {max}"), n=int(cl),
                                max=lim.max_body)
        chunks: list[bytes] = []

        async def read() -> None:
            size = 0
            while True:
                msg = await receive()
                if msg["type"] == "http.disconnect":
                    raise _Gone
                body = msg.get("body", b"")
                size += len(body)
                if size > lim.max_body:
                    raise _TooLarge
                chunks.append(body)
                if not msg.get("more_body"):
                    return

        try:
            async with asyncio.timeout(lim.body_timeout):  # no task per request, as wait_for
                await read()
        except TimeoutError:
            return Rejected(408, N_("body not received within {s} s"),
                            s=f"{lim.body_timeout:g}")
        except _TooLarge:
            return Rejected(413, N_("body exceeds {max} bytes"), max=lim.max_body)
        scope["sopctl.body"] = b"".join(chunks)
        return None

    def _log(self, scope: dict, info: dict[str, Any], dt: float) -> None:
        route = scope.get("path", "")
        if self.metrics is not None:
            self.metrics.request(route, info["status"], dt)
        if self.access is None:
            return
        client = scope.get("client") or ("-", 0)
        rec = {"client": client[0], "method": scope.get("method", ""), "path": route,
               "status": info["status"], "bytes": info["bytes"], "ms": round(dt * 1000, 1)}
        why = scope.get("sopctl.why") or info.get("why")
        if scope.get("sopctl.error") or info.get("error"):
            rec["error"] = scope.get("sopctl.error") or info["error"]
        self.access(rec, why)


def _header(scope: dict, name: bytes) -> str | None:
    for k, v in scope.get("headers", ()):
        if k == name:
            return v.decode("latin-1").strip()
    return None


def _replay(receive: Any) -> Any:
    """The body was read already; the app sees it as one empty final chunk."""
    sent = False

    async def again() -> dict:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": b"", "more_body": False}
        return await receive()

    return again


async def _plain(send: Any, status: int, reason: str, *, close: bool) -> None:
    body = json.dumps({"error": reason}, ensure_ascii=False).encode()
    headers = [(b"content-type", b"application/json; charset=utf-8"),
               (b"content-length", str(len(body)).encode())]
    if close:  # the unread rest of the request cannot be skipped safely
        headers.append((b"connection", b"close"))
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})
