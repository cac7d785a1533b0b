"""`sopctl serve`: an HTTP receiver for generic signed JSON, WeCom callbacks and Telegram.

Routes: POST /events (JSON, HMAC-SHA256), GET+POST /wecom (callback protocol),
POST /telegram (secret-token header), GET /healthz. A bad request gets a 4xx and a log
line and changes nothing; the server keeps serving.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import math
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

from .engine import EventEngine, UnknownGroup
from .platforms import telegram_events, wecom_events
from .types import Event, event_from_dict
from .wecom_crypto import WeComCrypto, WeComCryptoError

log = logging.getLogger("sopctl.events")
MAX_BODY = 1 << 20
MAX_AGE_S = 300


@dataclass(slots=True)
class ServeConfig:
    secret: str | None = None  # generic JSON events
    wecom: WeComCrypto | None = None
    telegram_secret: str | None = None
    max_body: int = MAX_BODY
    max_age_s: int = MAX_AGE_S
    clock: Callable[[], float] = time.time


class Rejected(Exception):
    def __init__(self, status: int, reason: str):
        super().__init__(reason)
        self.status = status
        self.reason = reason


def sign(secret: str, timestamp: str, body: bytes) -> str:
    """The generic events signature: hex HMAC-SHA256 over "<timestamp>." + body."""
    return "sha256=" + hmac.new(secret.encode(), timestamp.encode() + b"." + body,
                                hashlib.sha256).hexdigest()


class EventServer(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 256

    def __init__(self, addr: tuple[str, int], engine: EventEngine, cfg: ServeConfig):
        # the writer first: a failed bind calls server_close(), which stops it
        self.writer = _Writer(engine)
        self.engine = engine
        self.cfg = cfg
        self.accepted = 0
        self.rejected = 0
        self.latencies: list[float] | None = None  # receipt -> recorded, seconds (benchmarks)
        super().__init__(addr, _Handler)

    def ingest(self, events: list[Event]) -> int:
        """Map chat ids to groups (all or nothing), then process; returns actions taken."""
        mapped = []
        for ev in events:
            try:
                group = self.engine.resolve_group(ev.group)
            except UnknownGroup as exc:
                raise Rejected(422, str(exc)) from None
            mapped.append(ev if group == ev.group else _with_group(ev, group))
        return sum(len(a) for a in self.writer.submit(mapped)) if mapped else 0

    def server_close(self) -> None:
        super().server_close()
        self.writer.stop()


class _Writer:
    """Group commit: request threads hand their events to one writer thread, which stores
    whatever has queued up in one transaction. Each request still returns only once its
    events are committed."""

    def __init__(self, engine: EventEngine, max_batch: int = 256):
        self.engine = engine
        self.max_batch = max_batch
        self.q: queue.Queue[Any] = queue.Queue()
        self.thread = threading.Thread(target=self._loop, name="sopctl-events-writer",
                                       daemon=True)
        self.thread.start()

    def submit(self, events: list[Event]) -> list[list[Any]]:
        done = threading.Event()
        slot: list[Any] = [None, None]
        self.q.put((events, done, slot))
        done.wait()
        if slot[1] is not None:
            raise slot[1]
        return slot[0]

    def stop(self) -> None:
        self.q.put(None)

    def _loop(self) -> None:
        while True:
            first = self.q.get()
            if first is None:
                return
            jobs = [first]
            n = len(first[0])
            while n < self.max_batch:
                try:
                    nxt = self.q.get_nowait()
                except queue.Empty:
                    break
                if nxt is None:
                    self.q.put(None)
                    break
                jobs.append(nxt)
                n += len(nxt[0])
            try:
                res = self.engine.handle_batch([ev for j in jobs for ev in j[0]])
                for events, done, slot in jobs:
                    slot[0], res = res[:len(events)], res[len(events):]
                    done.set()
            except Exception:
                for events, done, slot in jobs:  # isolate the failing request
                    try:
                        slot[0] = self.engine.handle_batch(events)
                    except Exception as exc:
                        slot[1] = exc
                    done.set()


def _with_group(ev: Event, group: str) -> Event:
    from dataclasses import replace

    return replace(ev, group=group)


class _Handler(BaseHTTPRequestHandler):
    server: EventServer
    protocol_version = "HTTP/1.1"
    server_version = "sopctl"
    disable_nagle_algorithm = True  # headers and body are separate writes: no 40 ms stalls

    def log_message(self, format: str, *args: Any) -> None:  # access log: debug only
        log.debug("%s " + format, self.client_address[0], *args)

    # ------------------------------------------------------------------ plumbing
    def _reply(self, status: int, body: bytes | str | dict, ctype: str = "application/json"
               ) -> None:
        if isinstance(body, dict):
            body = json.dumps(body, ensure_ascii=False)
        data = body.encode() if isinstance(body, str) else body
        self.send_response(status)
        self.send_header("Content-Type", ctype + "; charset=utf-8")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _body(self) -> bytes:
        cached = getattr(self, "_raw", None)
        if cached is not None:
            return cached
        try:
            n = int(self.headers.get("Content-Length", ""))
        except ValueError:
            raise Rejected(411, "Content-Length required") from None
        if n < 0 or n > self.server.cfg.max_body:
            self.close_connection = True  # the unread body cannot be skipped safely
            raise Rejected(413, f"body of {n} bytes exceeds {self.server.cfg.max_body}")
        self._raw: bytes | None = self.rfile.read(n)
        return self._raw

    def _run(self, fn: Callable[[], tuple[int, bytes | str | dict, str]]) -> None:
        t0 = time.perf_counter()
        try:
            status, body, ctype = fn()
            self.server.accepted += 1
            if self.server.latencies is not None:
                self.server.latencies.append(time.perf_counter() - t0)
        except Rejected as exc:
            self.server.rejected += 1
            log.warning("rejected %s %s from %s: %s (%d)", self.command, self.path.split("?")[0],
                        self.client_address[0], exc.reason, exc.status)
            status, body, ctype = exc.status, {"error": exc.reason}, "application/json"
        except Exception as exc:  # keep serving whatever happens in one request
            self.server.rejected += 1
            log.exception("error handling %s %s: %s", self.command, self.path, exc)
            status, body, ctype = 500, {"error": "internal error"}, "application/json"
        self._reply(status, body, ctype)

    def do_GET(self) -> None:
        url = urlsplit(self.path)
        if url.path == "/healthz":
            self._reply(200, {"ok": True})
        elif url.path == "/wecom":
            self._run(lambda: self._wecom_verify(parse_qs(url.query)))
        else:
            self._run(lambda: (_ for _ in ()).throw(Rejected(404, "no such route")))

    def do_POST(self) -> None:
        url = urlsplit(self.path)
        route = {"/events": self._generic, "/wecom": self._wecom,
                 "/telegram": self._telegram}.get(url.path)
        if route is None:
            self._run(lambda: (_ for _ in ()).throw(Rejected(404, "no such route")))
            return
        self._raw = None
        # the body is read first, so a request refused early leaves the connection clean
        self._run(lambda: (self._body(), route(parse_qs(url.query)))[1])

    # ------------------------------------------------------------------ generic JSON
    def _generic(self, _q: dict) -> tuple[int, dict, str]:
        cfg = self.server.cfg
        body = self._body()
        if not cfg.secret:
            raise Rejected(403, "generic events are disabled (no --secret)")
        ts = self.headers.get("X-Sopctl-Timestamp", "")
        self._fresh(ts)
        got = self.headers.get("X-Sopctl-Signature", "")
        # bytes: compare_digest refuses str with non-ASCII characters (a 500, not a 401)
        if not hmac.compare_digest(sign(cfg.secret, ts, body).encode(),
                                   got.encode("utf-8", "replace")):
            raise Rejected(401, "bad signature")
        try:
            data = json.loads(body)
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise Rejected(400, f"malformed JSON: {exc}") from None
        items = data.get("events") if isinstance(data, dict) and "events" in data else data
        items = items if isinstance(items, list) else [items]
        try:
            events = [event_from_dict(d) for d in items]
        except ValueError as exc:
            raise Rejected(400, f"bad event: {exc}") from None
        return 200, {"accepted": len(events), "actions": self.server.ingest(events)}, \
            "application/json"

    def _fresh(self, ts: str) -> None:
        try:
            t = float(ts)
        except ValueError:
            raise Rejected(401, "missing or invalid timestamp") from None
        if not math.isfinite(t) or abs(self.server.cfg.clock() - t) > self.server.cfg.max_age_s:
            raise Rejected(401, f"timestamp {ts} outside the {self.server.cfg.max_age_s} s "
                           "window (replay?)")

    # ------------------------------------------------------------------ WeCom
    def _wecom_args(self, q: dict) -> tuple[WeComCrypto, str, str, str]:
        crypto = self.server.cfg.wecom
        if crypto is None:
            raise Rejected(403, "WeCom callbacks are disabled (no token/EncodingAESKey)")
        sig, ts, nonce = (q.get(k, [""])[0] for k in ("msg_signature", "timestamp", "nonce"))
        if not (sig and ts and nonce):
            raise Rejected(400, "msg_signature, timestamp and nonce are required")
        self._fresh(ts)
        return crypto, sig, ts, nonce

    def _wecom_verify(self, q: dict) -> tuple[int, str, str]:
        crypto, sig, ts, nonce = self._wecom_args(q)
        try:
            return 200, crypto.verify_url(sig, ts, nonce, q.get("echostr", [""])[0]), \
                "text/plain"
        except WeComCryptoError as exc:
            raise Rejected(401 if exc.code in (-40001, -40005) else 400, str(exc)) from None

    def _wecom(self, q: dict) -> tuple[int, str, str]:
        crypto, sig, ts, nonce = self._wecom_args(q)
        body = self._body()
        try:
            xml = crypto.decrypt_msg(body, sig, ts, nonce)
            events = wecom_events(xml)
        except WeComCryptoError as exc:
            raise Rejected(401 if exc.code in (-40001, -40005) else 400, str(exc)) from None
        except ValueError as exc:
            raise Rejected(400, f"bad callback: {exc}") from None
        self.server.ingest(events)
        return 200, "success", "text/plain"

    # ------------------------------------------------------------------ Telegram
    def _telegram(self, _q: dict) -> tuple[int, dict, str]:
        secret = self.server.cfg.telegram_secret
        body = self._body()
        if not secret:
            raise Rejected(403, "Telegram updates are disabled (no --telegram-secret)")
        got = self.headers.get("X-Telegram-Bot-Api-Secret-Token", "")
        if not hmac.compare_digest(secret.encode(), got.encode()):
            raise Rejected(401, "bad X-Telegram-Bot-Api-Secret-Token")
        try:
            events = telegram_events(json.loads(body))
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise Rejected(400, f"malformed JSON: {exc}") from None
        except ValueError as exc:
            raise Rejected(400, f"bad update: {exc}") from None
        return 200, {"accepted": len(events), "actions": self.server.ingest(events)}, \
            "application/json"


def start_ticker(engine: EventEngine, stop: threading.Event, every: float = 1.0
                 ) -> threading.Thread:
    """Flush due welcomes every second and sweep overdue members hourly."""

    def loop() -> None:
        last_sweep = 0.0
        while not stop.wait(every):
            try:
                engine.tick()
                if time.monotonic() - last_sweep > 3600:
                    engine.sweep()
                    last_sweep = time.monotonic()
            except Exception as exc:
                log.error("welcome/sweep tick failed: %s", exc)

    t = threading.Thread(target=loop, name="sopctl-events-tick", daemon=True)
    t.start()
    return t
