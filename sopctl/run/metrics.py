"""What the runner and the event receiver tell the outside: log lines (rich or JSON) and
Prometheus metrics (prometheus_client: its exposition format, its types, its registry).

Counters the code bumps as plain numbers (``metrics.ticks += 1``) are read by a collector at
scrape time, so the hot path holds no lock and takes no label lookups. The metrics
endpoint is a small ``http.server`` on a daemon thread: scraping never touches the event
loop. ``sopctl serve`` exposes the same registry on its own ``/metrics`` route.
"""

from __future__ import annotations

import json
import logging
import sys
import threading
from collections import defaultdict
from collections.abc import Iterator
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, TextIO

from ..i18n import N_, _

_BUCKETS = (0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1.0, 5.0)
_ROUTES = ("/events", "/wecom", "/telegram", "/healthz", "/metrics")


class Metrics:
    """The runner's metrics; safe to scrape from another thread."""

    def __init__(self) -> None:
        from prometheus_client import CollectorRegistry, Histogram, disable_created_metrics

        disable_created_metrics()  # no *_created series: one series per number
        self._lock = threading.Lock()
        self.registry = CollectorRegistry(auto_describe=True)
        self.sends: dict[tuple[str, str], int] = defaultdict(int)  # (status, channel)
        self.queue_depth = 0
        self.ticks = 0
        self.reloads: dict[str, int] = defaultdict(int)  # ok | rejected
        self.limiters: list[Any] = []  # RateLimiters whose waits are counted
        self._claim = Histogram("sopctl_claim_latency_seconds", "Time to commit one claim "
                                "batch.", buckets=_BUCKETS, registry=self.registry)
        self.registry.register(_Collector(self))

    def sent(self, status: str, channel: str, n: int = 1) -> None:
        with self._lock:
            self.sends[(status, channel)] += n

    def claim_latency(self, seconds: float) -> None:
        self._claim.observe(seconds)

    def watch(self, limiter: Any) -> None:
        """Count ``limiter``'s waits in sopctl_rate_limit_wait_seconds_total."""
        if limiter is not None and limiter not in self.limiters:
            self.limiters.append(limiter)

    @property
    def rate_wait_s(self) -> float:
        return sum(getattr(lim, "waited", 0.0) for lim in self.limiters)

    runner = True  # ticks and reloads are the runner's; the event receiver has neither

    def families(self) -> Iterator[Any]:
        from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily

        sends = CounterMetricFamily("sopctl_sends", "Occurrences finished, by status and "
                                    "channel.", labels=["status", "channel"])
        with self._lock:
            items = sorted(self.sends.items())
        for (status, ch), n in items:
            sends.add_metric([status, ch], n)
        yield sends
        yield GaugeMetricFamily("sopctl_queue_depth", "Claimed messages waiting for their "
                                "result.", value=self.queue_depth)
        yield CounterMetricFamily("sopctl_rate_limit_wait_seconds", "Seconds messages "
                                  "waited for a rate-limit token.", value=self.rate_wait_s)
        if not self.runner:
            return
        yield CounterMetricFamily("sopctl_ticks", "Scheduler ticks.", value=self.ticks)
        reloads = CounterMetricFamily("sopctl_reloads", "Playbook reloads, by result.",
                                      labels=["result"])
        for k, n in sorted(self.reloads.items()):
            reloads.add_metric([k], n)
        yield reloads

    def exposition(self) -> tuple[bytes, str]:
        from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

        return generate_latest(self.registry), CONTENT_TYPE_LATEST

    def render(self) -> str:
        return self.exposition()[0].decode()


class ServeMetrics(Metrics):
    """The event receiver's: the runner's delivery series (claim latency is the commit of
    an event batch with its claims) plus requests and events."""

    runner = False

    def __init__(self) -> None:
        super().__init__()
        from prometheus_client import Counter, Histogram

        r = self.registry
        self._requests = Counter("sopctl_http_requests", "HTTP requests answered, by route "
                                 "and status.", ["route", "status"], registry=r)
        self._duration = Histogram("sopctl_http_request_duration_seconds", "From the "
                                   "request head to the answer.", ["route"],
                                   buckets=_BUCKETS, registry=r)
        self._events = Counter("sopctl_events", "Events received and stored, by source.",
                               ["source"], registry=r)
        self._ingest = Histogram("sopctl_event_ingest_seconds", "From receipt to the "
                                 "committed store and ledger records.", buckets=_BUCKETS,
                                 registry=r)
        self._refused = Counter("sopctl_events_refused", "Requests refused, by route and "
                                "status.", ["route", "status"], registry=r)
        # the labelled children, looked up once: ``labels()`` costs more than the update
        self._per_request: dict[tuple[str, int], tuple[Any, Any]] = {}
        self._per_source: dict[str, Any] = {}

    def request(self, route: str, status: int, seconds: float) -> None:
        route = route if route in _ROUTES else "other"  # paths are the client's
        pair = self._per_request.get((route, status))
        if pair is None:
            pair = self._per_request[route, status] = (
                self._requests.labels(route, str(status)), self._duration.labels(route))
        pair[0].inc()
        pair[1].observe(seconds)

    def ingested(self, source: str, n: int, seconds: float) -> None:
        child = self._per_source.get(source)
        if child is None:
            child = self._per_source[source] = self._events.labels(source)
        child.inc(n)
        self._ingest.observe(seconds)

    def refused(self, route: str, status: int) -> None:
        self._refused.labels(route if route in _ROUTES else "other", str(status)).inc()


class _Collector:
    def __init__(self, metrics: Metrics) -> None:
        self.metrics = metrics

    def collect(self) -> Iterator[Any]:
        yield from self.metrics.families()


def serve_metrics(metrics: Metrics, port: int, host: str = "127.0.0.1") -> ThreadingHTTPServer:
    """Serve ``/metrics`` on a daemon thread; returns the server (``shutdown()`` to stop)."""

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            if self.path.split("?")[0] not in ("/metrics", "/"):
                self.send_error(404)
                return
            body, ctype = metrics.exposition()
            try:
                self.send_response(200)
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)
            except OSError:  # the scraper hung up
                pass

        def log_message(self, *args: Any) -> None:  # scrapes are not news
            pass

    server = ThreadingHTTPServer((host, port), Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, name="sopctl-metrics", daemon=True).start()
    return server


class EventLog:
    """Runner events: a rich line for people, stamped on the playbook's clock and labelled
    with its zone (``tz``; UTC when None), or one JSON object per line for machines (UTC)."""

    def __init__(self, fmt: str = "rich", stream: TextIO | None = None, quiet: bool = False,
                 tz: str | None = None):
        self.fmt = fmt
        self.stream = stream
        self.quiet = quiet
        self.tz = tz

    def __call__(self, event: str, message: str, level: str = "info", **fields: Any) -> None:
        if self.quiet and level == "debug":
            return
        now = datetime.now(UTC)
        if self.fmt == "json":
            rec = {"ts": now.isoformat(timespec="milliseconds"), "level": level,
                   "event": event, "message": message, **fields}
            (self.stream or sys.stderr).write(
                json.dumps(rec, ensure_ascii=False, default=str) + "\n")
            (self.stream or sys.stderr).flush()
            return
        if level == "debug":
            return
        from rich.markup import escape

        from ..console import err_console
        from ..timefmt import clock

        style = {"error": "bold red", "warning": "yellow"}.get(level, "dim")
        stamp = clock(now, self.tz, seconds=True)
        err_console().print(f"[{style}]{escape(stamp)} {level_text(level)}[/] "
                            f"{escape(message)}", markup=True, highlight=False)


LEVELS = {"debug": N_("debug"), "info": N_("info"), "warning": N_("warning"),
          "error": N_("error")}


def level_text(level: str) -> str:
    """A log line's level in the selected language, padded to a common width."""
    from rich.cells import cell_len

    word = _(LEVELS[level]) if level in LEVELS else level
    return word + " " * max(0, 7 - cell_len(word))


class ZoneFormatter(logging.Formatter):
    """``logging`` lines as the runner's: the time on the playbook's clock, labelled with
    its zone (``tz`` may be set once the playbook is loaded), the level translated."""

    def __init__(self, tz: str | None = None) -> None:
        super().__init__("%(asctime)s %(levelname)s %(message)s")
        self.tz = tz

    def formatTime(self, record: logging.LogRecord, datefmt: str | None = None) -> str:
        from ..timefmt import clock

        return clock(datetime.fromtimestamp(record.created, UTC), self.tz, seconds=True)

    def format(self, record: logging.LogRecord) -> str:
        name = record.levelname  # other handlers may see the record after this one
        record.levelname = level_text(name.lower()).rstrip()
        try:
            return super().format(record)
        finally:
            record.levelname = name
