"""A small HTTP/1.1 server on 127.0.0.1 (asyncio + h11, in its own thread) for platform fakes.

Subclasses implement ``handle(req) -> Response`` and call ``accept(req, payload)`` for every
message the platform would have delivered, so tests can assert on exactly what got through
(no double posts) and when (rate windows), by the same clock the client uses.
"""

from __future__ import annotations

import asyncio
import json
import random
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import h11


class RealClock:
    def time(self) -> float:
        return time.time()


@dataclass
class Request:
    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: bytes
    t: float  # the fake's clock at receipt

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class Response:
    status: int = 200
    body: Any = b""
    headers: dict[str, str] = field(default_factory=dict)

    def encoded(self) -> tuple[bytes, list[tuple[str, str]]]:
        hdrs = dict(self.headers)
        if isinstance(self.body, bytes):
            raw = self.body
        elif isinstance(self.body, str):
            raw = self.body.encode()
            hdrs.setdefault("Content-Type", "text/plain; charset=utf-8")
        else:
            raw = json.dumps(self.body, ensure_ascii=False).encode()
            hdrs.setdefault("Content-Type", "application/json; charset=utf-8")
        hdrs["Content-Length"] = str(len(raw))
        return raw, list(hdrs.items())


@dataclass
class Accepted:
    t: float
    endpoint: str
    payload: Any
    headers: dict[str, str]


class FakeServer:
    """Start with ``with Fake(...) as f:`` (or ``start()``/``stop()``); ``f.url`` is its base."""

    def __init__(self, *, clock: Any = None, delay: float = 0.0, seed: int = 7) -> None:
        self.clock = clock or RealClock()
        self.delay = delay  # real seconds before every answer (latency)
        self.error_ratio = 0.0  # share of requests answered error_status before handling
        self.error_status = 503
        self.rng = random.Random(seed)
        self.accepted: list[Accepted] = []
        self.requests: list[Request] = []
        self.answers: list[Response] = []  # every answer given, in order
        self._fail_next: list[int] = []
        self._hang_next: list[float] = []
        self._respond_next: list[Response] = []
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self.port = 0
        self._tasks: set[asyncio.Task] = set()

    # -- faults
    def fail_next(self, n: int = 1, status: int = 503) -> None:
        """The next ``n`` requests get ``status`` and are not delivered (an error storm)."""
        self._fail_next.extend([status] * n)

    def respond_next(self, n: int, response: Response) -> None:
        """The next ``n`` requests get ``response`` and are not delivered (an errcode storm:
        45009, 130101, 429 with its headers...)."""
        self._respond_next.extend([response] * n)

    def hang_next(self, n: int = 1, seconds: float = 2.0) -> None:
        """The next ``n`` delivered messages are answered only after ``seconds`` (real):
        the platform got them, the client times out."""
        self._hang_next.extend([seconds] * n)

    # -- for subclasses
    def handle(self, req: Request) -> Response:
        raise NotImplementedError

    def accept(self, req: Request, endpoint: str, payload: Any) -> None:
        with self._lock:
            self.accepted.append(Accepted(req.t, endpoint, payload, req.headers))

    def recent(self, endpoint: str, period: float, now: float) -> int:
        """Messages accepted for ``endpoint`` in the last ``period`` seconds."""
        return sum(1 for a in self.accepted if a.endpoint == endpoint and now - a.t < period)

    def max_in_window(self, period: float, endpoint: str | None = None) -> int:
        """The largest number of accepted messages inside any window of ``period`` seconds."""
        ts = sorted(a.t for a in self.accepted if endpoint is None or a.endpoint == endpoint)
        best, win = 0, deque()
        for t in ts:
            win.append(t)
            while t - win[0] >= period:
                win.popleft()
            best = max(best, len(win))
        return best

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    # -- plumbing
    def refusals(self, code: int) -> int:
        """How many answers carried ``code`` (HTTP status, or errcode/code/error_code)."""
        n = 0
        for r in self.answers:
            b = r.body if isinstance(r.body, dict) else {}
            n += code in (r.status, b.get("errcode"), b.get("code"), b.get("error_code"))
        return n

    def _dispatch(self, req: Request) -> tuple[Response, float]:
        with self._lock:
            self.requests.append(req)
        resp, wait = self._answer(req)
        with self._lock:
            self.answers.append(resp)
        return resp, wait

    def _answer(self, req: Request) -> tuple[Response, float]:
        if self._respond_next:
            return self._respond_next.pop(0), self.delay
        if self._fail_next:
            return Response(self._fail_next.pop(0), {"error": "injected"}), self.delay
        if self.error_ratio and self.rng.random() < self.error_ratio:
            return Response(self.error_status, {"error": "injected"}), self.delay
        n = len(self.accepted)
        resp = self.handle(req)
        wait = self.delay
        if len(self.accepted) > n and self._hang_next:
            wait += self._hang_next.pop(0)
        return resp, wait

    async def _conn(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        conn = h11.Connection(h11.SERVER)
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        try:
            while True:
                head: h11.Request | None = None
                body = bytearray()
                while True:
                    ev = conn.next_event()
                    if ev is h11.NEED_DATA:
                        data = await reader.read(65536)
                        conn.receive_data(data)
                        if not data and conn.their_state is not h11.DONE:
                            return
                        continue
                    if isinstance(ev, h11.Request):
                        head = ev
                    elif isinstance(ev, h11.Data):
                        body += ev.data
                    elif isinstance(ev, h11.EndOfMessage):
                        break
                    elif isinstance(ev, h11.ConnectionClosed):
                        return
                assert head is not None
                u = urlsplit(head.target.decode())
                req = Request(head.method.decode(), u.path, dict(parse_qsl(u.query)),
                              {k.decode().lower(): v.decode() for k, v in head.headers},
                              bytes(body), self.clock.time())
                try:
                    resp, wait = self._dispatch(req)
                except Exception as e:  # a fake bug shows as a 500, not a hung test
                    resp, wait = Response(500, {"error": repr(e)}), 0.0
                if wait:
                    await asyncio.sleep(wait)
                raw, hdrs = resp.encoded()
                writer.write(conn.send(h11.Response(status_code=resp.status, headers=hdrs)))
                writer.write(conn.send(h11.Data(data=raw)))
                writer.write(conn.send(h11.EndOfMessage()))
                await writer.drain()
                if conn.our_state is h11.MUST_CLOSE:
                    return
                conn.start_next_cycle()
        except (ConnectionError, h11.RemoteProtocolError, asyncio.CancelledError):
            return
        finally:
            self._tasks.discard(task)
            writer.close()

    def start(self) -> FakeServer:
        ready = threading.Event()

        async def main() -> None:
            self._stop = asyncio.Event()
            server = await asyncio.start_server(self._conn, "127.0.0.1", 0, backlog=4096)
            self.port = server.sockets[0].getsockname()[1]
            ready.set()
            async with server:
                await self._stop.wait()
                for t in list(self._tasks):
                    t.cancel()
                await asyncio.gather(*self._tasks, return_exceptions=True)

        def run() -> None:
            self._loop = asyncio.new_event_loop()
            self._loop.run_until_complete(main())
            self._loop.close()

        self._thread = threading.Thread(target=run, name=type(self).__name__, daemon=True)
        self._thread.start()
        ready.wait(10)
        return self

    def stop(self) -> None:
        if self._loop and self._stop and self._thread:
            self._loop.call_soon_threadsafe(self._stop.set)
            self._thread.join(10)
            self._thread = None

    def __enter__(self) -> FakeServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
