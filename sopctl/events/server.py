"""The event receiver's core, independent of the HTTP stack: request checks and group commit.

Routes (sopctl/events/http.py serves them): POST /events (JSON, HMAC-SHA256), GET+POST
/wecom (callback protocol), POST /telegram (secret-token header), GET /healthz,
GET /metrics. Each check here is a plain function of the request's query, headers and
body that returns (status, body, content type) or raises :class:`Rejected`; a refused
request changes nothing.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import logging
import math
import queue
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from typing import Any

from ..i18n import N_, _
from .engine import EventEngine, UnknownGroup
from .platforms import telegram_events, wecom_events
from .types import Event, MemberJoined, event_from_dict
from .wecom_crypto import WeComCrypto, WeComCryptoError

log = logging.getLogger("sopctl.events")
MAX_BODY = 1 << 20
MAX_AGE_S = 300

Reply = tuple[int, "bytes | str | dict[str, Any]", str]


@dataclass(slots=True)
class ServeConfig:
    secret: str | None = None  # generic JSON events
    wecom: WeComCrypto | None = None
    telegram_secret: str | None = None
    max_body: int = MAX_BODY
    max_age_s: int = MAX_AGE_S
    clock: Callable[[], float] = time.time


class Rejected(Exception):
    """A refused request: ``reason`` (English, filled in) is the answer's body and the JSON
    log's; :meth:`human` is the same sentence in the operator's language."""

    def __init__(self, status: int, msgid: str, **params: Any):
        self.status, self.msgid, self.params = status, msgid, params
        self.reason = msgid.format(**params)
        super().__init__(self.reason)

    def human(self) -> str:
        return _(self.msgid).format(**self.params)


def sign(secret: str, timestamp: str, body: bytes) -> str:
    """The generic events signature: hex HMAC-SHA256 over "<timestamp>." + body."""
    return "sha256=" + hmac.new(secret.encode(), timestamp.encode() + b"." + body,
                                hashlib.sha256).hexdigest()


class Writer:
    """Group commit: requests hand their events to one writer thread, which stores whatever
    has queued up in one transaction. Each request is answered only once its events are
    committed. :meth:`stop` processes everything already handed in, then ends."""

    def __init__(self, engine: EventEngine, max_batch: int = 256, metrics: Any = None):
        self.engine = engine
        self.max_batch = max_batch
        self.metrics = metrics
        self.q: queue.Queue[Any] = queue.Queue()
        self.thread = threading.Thread(target=self._loop, name="sopctl-events-writer",
                                       daemon=True)
        self.thread.start()

    async def submit_async(self, events: list[Event]) -> list[int]:
        """The number of actions each event caused, once all are committed (waits without
        holding a thread)."""
        loop = asyncio.get_running_loop()
        fut: asyncio.Future[list[int]] = loop.create_future()

        def settle(res: Any, exc: BaseException | None) -> None:
            if fut.done():  # the request was cancelled (client gone): the events stay stored
                return
            if exc is not None:
                fut.set_exception(exc)
            else:
                fut.set_result(res)

        def resolve(res: Any, exc: BaseException | None) -> None:
            loop.call_soon_threadsafe(settle, res, exc)

        self.q.put((events, resolve))
        return await fut

    def stop(self, timeout: float = 30) -> None:
        self.q.put(None)
        self.thread.join(timeout)

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
            t0 = time.perf_counter()
            try:
                res, recorded = self.engine.commit_batch([ev for j in jobs for ev in j[0]])
                if self.metrics is not None:
                    self.metrics.claim_latency(time.perf_counter() - t0)
            except Exception:
                for events, resolve in jobs:  # isolate the failing request
                    try:
                        got, recorded = self.engine.commit_batch(events)
                    except Exception as exc:
                        resolve(None, exc)
                    else:
                        self.engine.notify(recorded)
                        resolve([len(a) for a in got], None)
                continue
            self.engine.notify(recorded)
            for events, resolve in jobs:
                mine, res = res[:len(events)], res[len(events):]
                resolve([len(a) for a in mine], None)


class Receiver:
    """The routes' logic: authenticate, parse, map to groups, store. Used by the HTTP app."""

    def __init__(self, engine: EventEngine, cfg: ServeConfig, names: Any = None,
                 metrics: Any = None, writer: Any = None):
        """``writer``: a :class:`Writer` (the default) or another with its
        ``submit_async`` and ``stop`` (:class:`~sopctl.events.committer.ProcessWriter`)."""
        self.engine = engine
        self.cfg = cfg
        self.writer = writer if writer is not None else Writer(engine, metrics=metrics)
        self.names = names  # sopctl.events.names.WeComNames, or None
        self.accepted = 0
        self.rejected = 0

    def close(self) -> None:
        self.writer.stop()

    # ------------------------------------------------------------------ storing
    def map_groups(self, events: list[Event]) -> list[Event]:
        """Chat ids -> playbook groups, all or nothing (422 for the first unknown one)."""
        out = []
        for ev in events:
            try:
                group = self.engine.resolve_group(ev.group)
            except UnknownGroup as exc:
                raise Rejected(422, "{why}", why=str(exc)) from None
            out.append(ev if group == ev.group else replace(ev, group=group))
        return out

    async def ingest(self, events: list[Event]) -> int:
        """Store and react; returns the number of actions taken."""
        mapped = self.map_groups(events)
        if not mapped:
            return 0
        return sum(await self.writer.submit_async(mapped))

    # ------------------------------------------------------------------ routes
    def _fresh(self, ts: str) -> None:
        try:
            t = float(ts)
        except ValueError:
            raise Rejected(401, N_("missing or invalid timestamp")) from None
        if not math.isfinite(t) or abs(self.cfg.clock() - t) > self.cfg.max_age_s:
            raise Rejected(401, N_("timestamp {ts} outside the {window} s window (replay?)"),
                           ts=ts, window=self.cfg.max_age_s)

    def generic(self, headers: Mapping[str, str], body: bytes) -> list[Event]:
        if not self.cfg.secret:
            raise Rejected(403, N_("generic events are disabled (no --secret)"))
        ts = headers.get("x-sopctl-timestamp", "")
        self._fresh(ts)
        got = headers.get("x-sopctl-signature", "")
        # bytes: compare_digest refuses str with non-ASCII characters (a 500, not a 401)
        if not hmac.compare_digest(sign(self.cfg.secret, ts, body).encode(),
                                   got.encode("utf-8", "replace")):
            raise Rejected(401, N_("bad signature"))
        try:
            data = json.loads(body)
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise Rejected(400, N_("malformed JSON: {why}"), why=exc) from None
        items = data.get("events") if isinstance(data, dict) and "events" in data else data
        items = items if isinstance(items, list) else [items]
        try:
            return [event_from_dict(d) for d in items]
        except ValueError as exc:
            raise Rejected(400, N_("bad event: {why}"), why=exc) from None

    def _wecom_args(self, q: Mapping[str, str]) -> tuple[WeComCrypto, str, str, str]:
        crypto = self.cfg.wecom
        if crypto is None:
            raise Rejected(403, N_("WeCom callbacks are disabled (no token/EncodingAESKey)"))
        sig, ts, nonce = (q.get(k, "") for k in ("msg_signature", "timestamp", "nonce"))
        if not (sig and ts and nonce):
            raise Rejected(400, N_("msg_signature, timestamp and nonce are required"))
        self._fresh(ts)
        return crypto, sig, ts, nonce

    def wecom_verify(self, q: Mapping[str, str]) -> str:
        crypto, sig, ts, nonce = self._wecom_args(q)
        try:
            return crypto.verify_url(sig, ts, nonce, q.get("echostr", ""))
        except WeComCryptoError as exc:
            raise Rejected(401 if exc.code in (-40001, -40005) else 400, "{why}",
                           why=str(exc)) from None

    def wecom(self, q: Mapping[str, str], body: bytes) -> list[Event]:
        crypto, sig, ts, nonce = self._wecom_args(q)
        try:
            xml = crypto.decrypt_msg(body, sig, ts, nonce)
            return wecom_events(xml)
        except WeComCryptoError as exc:
            raise Rejected(401 if exc.code in (-40001, -40005) else 400, "{why}",
                           why=str(exc)) from None
        except ValueError as exc:
            raise Rejected(400, N_("bad callback: {why}"), why=exc) from None

    async def wecom_named(self, events: list[Event]) -> list[Event]:
        """Joins carry no nickname on WeCom: ask the customer-group API (when a channel
        for it is configured); the id stays when the API refuses."""
        if self.names is None or not any(isinstance(e, MemberJoined) and not e.nickname
                                         for e in events):
            return events
        return await self.names.fill(events)

    def telegram(self, headers: Mapping[str, str], body: bytes) -> list[Event]:
        secret = self.cfg.telegram_secret
        if not secret:
            raise Rejected(403, N_("Telegram updates are disabled (no --telegram-secret)"))
        got = headers.get("x-telegram-bot-api-secret-token", "")
        if not hmac.compare_digest(secret.encode(), got.encode("utf-8", "replace")):
            raise Rejected(401, N_("bad X-Telegram-Bot-Api-Secret-Token"))
        try:
            return telegram_events(json.loads(body))
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise Rejected(400, N_("malformed JSON: {why}"), why=exc) from None
        except ValueError as exc:
            raise Rejected(400, N_("bad update: {why}"), why=exc) from None


def start_ticker(engine: EventEngine, stop: threading.Event, every: float = 1.0
                 ) -> threading.Thread:
    """Form due welcomes every second and sweep overdue members hourly."""

    def loop() -> None:
        last_sweep = 0.0
        while not stop.wait(every):
            try:
                engine.tick()
                if time.monotonic() - last_sweep > 3600:
                    engine.sweep()
                    last_sweep = time.monotonic()
            except Exception as exc:
                log.error(_("welcome/sweep tick failed: {why}").format(why=exc))

    t = threading.Thread(target=loop, name="sopctl-events-tick", daemon=True)
    t.start()
    return t
