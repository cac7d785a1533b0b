"""`sopctl serve` over HTTP: a Starlette app on uvicorn, hardened for the open internet.

What uvicorn gives: an asyncio server (a stalled connection costs a socket, not a thread),
keep-alive with an idle timeout, a bound on header size (h11), a bound on concurrent
connections (``limit_concurrency``: beyond it requests get 503), graceful shutdown on
SIGTERM (stop accepting, let requests in flight finish), and ``X-Forwarded-For`` honoured
only from the addresses in ``forwarded_allow_ips``.

What uvicorn lacks is added: a timeout for the request head (here: a client that connects
and sends part of a header is closed), and in the guard (sopctl/events/guard.py) a timeout
and a size bound for the body, read before any route runs, one access-log line per request
(JSON, or a translated line for people), and no traceback for whatever a client does.
"""

from __future__ import annotations

import asyncio
import gc
import logging
import socket
import threading
import time
from typing import Any

from ..i18n import _
from .guard import AccessLog, Guard, HttpLimits
from .server import Receiver, Rejected

__all__ = ["AccessLog", "EventServer", "Guard", "HttpLimits", "build_app"]

log = logging.getLogger("sopctl.events")


# ----------------------------------------------------------------------------- the app

def build_app(receiver: Receiver, limits: HttpLimits, *, access: AccessLog | None = None,
              metrics: Any = None) -> Guard:
    """The routes, behind the guard."""
    from starlette.requests import Request
    from starlette.responses import JSONResponse, PlainTextResponse, Response
    from starlette.routing import Route, Router

    def reply(status: int, body: Any, ctype: str = "application/json") -> Response:
        if isinstance(body, dict):
            return JSONResponse(body, status)
        return PlainTextResponse(body, status, media_type=ctype)

    def refused(request: Request, exc: Rejected) -> Response:
        receiver.rejected += 1
        request.scope["sopctl.error"] = exc.reason
        request.scope["sopctl.why"] = exc.human()
        if metrics is not None:
            metrics.refused(request.url.path, exc.status)
        return JSONResponse({"error": exc.reason}, exc.status)

    def body(request: Request) -> bytes:
        return request.scope.get("sopctl.body", b"")

    async def ingest(request: Request, source: str, events: list) -> int:
        t0 = time.perf_counter()
        n = await receiver.ingest(events)
        receiver.accepted += 1
        if metrics is not None:
            metrics.ingested(source, len(events), time.perf_counter() - t0)
        return n

    async def events(request: Request) -> Response:
        try:
            evs = receiver.generic(request.headers, body(request))
            n = await ingest(request, "generic", evs)
        except Rejected as exc:
            return refused(request, exc)
        return reply(200, {"accepted": len(evs), "actions": n})

    async def wecom_get(request: Request) -> Response:
        try:
            return reply(200, receiver.wecom_verify(request.query_params), "text/plain")
        except Rejected as exc:
            return refused(request, exc)

    async def wecom_post(request: Request) -> Response:
        try:
            evs = receiver.wecom(request.query_params, body(request))
            receiver.map_groups(evs)  # refuse unknown chats before asking for names
            evs = await receiver.wecom_named(evs)
            await ingest(request, "wecom", evs)
        except Rejected as exc:
            return refused(request, exc)
        return reply(200, "success", "text/plain")

    async def telegram(request: Request) -> Response:
        try:
            evs = receiver.telegram(request.headers, body(request))
            n = await ingest(request, "telegram", evs)
        except Rejected as exc:
            return refused(request, exc)
        return reply(200, {"accepted": len(evs), "actions": n})

    async def healthz(request: Request) -> Response:
        return reply(200, {"ok": True})

    async def metrics_route(request: Request) -> Response:
        if metrics is None:
            return JSONResponse({"error": "no such route"}, 404)
        data, ctype = metrics.exposition()
        return Response(data, 200, media_type=ctype)

    async def not_found(scope: dict, receive: Any, send: Any) -> None:
        scope["sopctl.error"] = "no such route"
        scope["sopctl.why"] = _("no such route")
        await JSONResponse({"error": "no such route"}, 404)(scope, receive, send)

    router = Router([
        Route("/events", events, methods=["POST"]),
        Route("/wecom", wecom_get, methods=["GET"]),
        Route("/wecom", wecom_post, methods=["POST"]),
        Route("/telegram", telegram, methods=["POST"]),
        Route("/healthz", healthz, methods=["GET"]),
        Route("/metrics", metrics_route, methods=["GET"]),
    ], default=not_found)
    return Guard(router, limits, access, metrics, receiver)


# ----------------------------------------------------------------------------- the server

def _guarded(base: type) -> type:
    """A uvicorn protocol class that closes a connection whose request head does not arrive
    within ``header_timeout`` (uvicorn's own keep-alive timer only runs between requests),
    and answers 431 to a head longer than ``max_header`` bytes (httptools, unlike h11, has
    no bound of its own: the head would grow in memory until the timeout)."""

    class Guarded(base):  # type: ignore[misc, valid-type]
        header_timeout = 10.0
        max_header = 16 * 1024
        _head_timer: asyncio.TimerHandle | None = None
        _head_bytes = 0  # received since the last request's head was complete

        def connection_made(self, transport: Any) -> None:
            super().connection_made(transport)
            self._arm()

        def data_received(self, data: bytes) -> None:
            if self.cycle is None or self.cycle.response_complete:  # a head is coming
                end = data.find(b"\r\n\r\n")
                self._head_bytes += len(data) if end < 0 else end + 4
                if self._head_bytes > self.max_header:
                    self._head_too_large()
                    return
                if end >= 0:
                    self._head_bytes = 0
            super().data_received(data)
            if self.cycle is not None and not self.cycle.response_complete:
                self._head_bytes = 0
                self._disarm()  # a request is under way: the body has its own timeout
            elif self._head_timer is None:
                self._arm()

        def _head_too_large(self) -> None:
            self._disarm()
            if not self.transport.is_closing():
                body = b'{"error":"request head exceeds %d bytes"}' % self.max_header
                self.transport.write(
                    b"HTTP/1.1 431 Request Header Fields Too Large\r\n"
                    b"content-type: application/json\r\nconnection: close\r\n"
                    b"content-length: %d\r\n\r\n%s" % (len(body), body))
                self.transport.close()

        def on_response_complete(self) -> None:
            super().on_response_complete()
            # idle (uvicorn's keep-alive timer runs), or part of the next head is buffered
            # already: either way the next head has header_timeout from here
            if self.cycle is None or self.cycle.response_complete:
                self._arm()

        def connection_lost(self, exc: Exception | None) -> None:
            self._disarm()
            super().connection_lost(exc)

        def _arm(self) -> None:
            self._disarm()
            self._head_timer = self.loop.call_later(self.header_timeout, self._head_late)

        def _disarm(self) -> None:
            if self._head_timer is not None:
                self._head_timer.cancel()
                self._head_timer = None

        def _head_late(self) -> None:
            self._head_timer = None
            if (self.cycle is None or self.cycle.response_complete) \
                    and not self.transport.is_closing():
                self.transport.close()

    Guarded.__name__ = f"Guarded{base.__name__}"
    return Guarded


def protocol_class(limits: HttpLimits) -> type:
    """httptools when installed (faster), else h11, each with the head timeout."""
    try:
        import httptools  # noqa: F401
        from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol as base
    except ImportError:
        from uvicorn.protocols.http.h11_impl import H11Protocol as base
    cls = _guarded(base)
    cls.header_timeout, cls.max_header = limits.header_timeout, limits.max_header
    return cls


def bind(host: str, port: int) -> socket.socket:
    """The listening socket (several worker processes may accept on one)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    # IPPROTO_TCP spelled out: asyncio sets TCP_NODELAY only on sockets whose proto says
    # TCP, and without it every answer waits for the client's delayed ACK (40 ms)
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
        sock.setblocking(False)
    except OSError:
        sock.close()
        raise
    return sock


class EventServer:
    """uvicorn serving :func:`build_app`. :meth:`run` blocks (SIGTERM/SIGINT stop it
    gracefully, in the main thread); :meth:`start` serves from a background thread."""

    def __init__(self, receiver: Receiver, *, host: str = "127.0.0.1", port: int = 0,
                 limits: HttpLimits | None = None, access: AccessLog | None = None,
                 metrics: Any = None, forwarded_allow_ips: str | None = None,
                 app: Any = None, sock: socket.socket | None = None) -> None:
        """``app`` replaces the routes (the benchmark's empty handler on the same stack)."""
        import uvicorn

        self.receiver = receiver
        self.limits = limits or HttpLimits(max_body=receiver.cfg.max_body)
        app = app or build_app(receiver, self.limits, access=access, metrics=metrics)
        logging.getLogger("uvicorn.error").setLevel(logging.WARNING)
        access_logger = logging.getLogger("uvicorn.access")  # ours replaces it
        access_logger.propagate, access_logger.disabled = False, True
        self.config = uvicorn.Config(
            app, host=host, port=port, http=protocol_class(self.limits), lifespan="off",
            log_config=None, access_log=False, server_header=False,
            timeout_keep_alive=max(1, round(self.limits.keep_alive)),
            limit_concurrency=self.limits.max_connections, backlog=self.limits.backlog,
            timeout_graceful_shutdown=max(1, round(self.limits.graceful_s)),
            h11_max_incomplete_event_size=self.limits.max_header,
            proxy_headers=bool(forwarded_allow_ips), forwarded_allow_ips=forwarded_allow_ips
            or "")
        self.server = uvicorn.Server(self.config)
        self._thread: threading.Thread | None = None
        # bound here, so a busy port is an error to report; or given (pre-forked workers)
        self.sock = sock if sock is not None else bind(host, port)

    @property
    def port(self) -> int:
        return self.sock.getsockname()[1]

    def run(self) -> None:
        """Serve until SIGTERM/SIGINT, then stop accepting and finish requests in flight."""
        # what exists now (modules, the playbook, SQLAlchemy's tables and caches) lives as
        # long as the process: kept out of the collector, a full collection no longer
        # walks it (it paused every request in flight for tens of ms)
        gc.collect()
        gc.freeze()
        self.server.run(sockets=[self.sock])

    def start(self, timeout: float = 10.0) -> EventServer:
        self._thread = threading.Thread(target=self.run, name="sopctl-http", daemon=True)
        self._thread.start()
        t_end = time.monotonic() + timeout
        while not self.server.started:
            if not self._thread.is_alive() or time.monotonic() > t_end:
                raise OSError(f"cannot listen on {self.config.host}:{self.config.port}")
            time.sleep(0.01)
        return self

    def request_stop(self) -> None:
        """Stop accepting and finish what is in flight (safe in a signal handler, and
        before :meth:`run` has begun: it then returns once started)."""
        self.server.should_exit = True

    def stop(self, timeout: float = 35.0) -> None:
        self.request_stop()
        if self._thread is not None:
            self._thread.join(timeout)
