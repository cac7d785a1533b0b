"""What the runner tells the outside: log lines (rich or JSON) and Prometheus metrics.

The metrics endpoint is a stdlib ``http.server`` on a daemon thread: no dependency,
and scraping never touches the event loop.
"""

from __future__ import annotations

import json
import sys
import threading
from collections import defaultdict
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, TextIO

_BUCKETS = (0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1.0, 5.0)


class Metrics:
    """Counters, gauges and one histogram, safe to read from another thread."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.sends: dict[tuple[str, str], int] = defaultdict(int)  # (status, channel)
        self.claim_buckets = [0] * len(_BUCKETS)
        self.claim_sum = 0.0
        self.claim_count = 0
        self.queue_depth = 0
        self.ticks = 0
        self.reloads: dict[str, int] = defaultdict(int)  # ok | rejected
        self.rate_wait_s = 0.0

    def sent(self, status: str, channel: str, n: int = 1) -> None:
        with self._lock:
            self.sends[(status, channel)] += n

    def claim_latency(self, seconds: float) -> None:
        with self._lock:
            self.claim_sum += seconds
            self.claim_count += 1
            for i, b in enumerate(_BUCKETS):
                if seconds <= b:
                    self.claim_buckets[i] += 1

    def render(self) -> str:
        with self._lock:
            out = ["# HELP sopctl_sends_total Occurrences finished, by status and channel.",
                   "# TYPE sopctl_sends_total counter"]
            for (status, ch), n in sorted(self.sends.items()):
                out.append(f'sopctl_sends_total{{status="{status}",channel="{_esc(ch)}"}} {n}')
            out += ["# HELP sopctl_claim_latency_seconds Time to commit one claim batch.",
                    "# TYPE sopctl_claim_latency_seconds histogram"]
            for b, n in zip(_BUCKETS, self.claim_buckets, strict=True):
                out.append(f'sopctl_claim_latency_seconds_bucket{{le="{b}"}} {n}')
            out.append(f'sopctl_claim_latency_seconds_bucket{{le="+Inf"}} {self.claim_count}')
            out.append(f"sopctl_claim_latency_seconds_sum {self.claim_sum:.6f}")
            out.append(f"sopctl_claim_latency_seconds_count {self.claim_count}")
            out += ["# HELP sopctl_queue_depth Claimed messages waiting for their result.",
                    "# TYPE sopctl_queue_depth gauge", f"sopctl_queue_depth {self.queue_depth}",
                    "# TYPE sopctl_ticks_total counter", f"sopctl_ticks_total {self.ticks}",
                    "# TYPE sopctl_rate_limit_wait_seconds_total counter",
                    f"sopctl_rate_limit_wait_seconds_total {self.rate_wait_s:.3f}",
                    "# TYPE sopctl_reloads_total counter"]
            for k, n in sorted(self.reloads.items()):
                out.append(f'sopctl_reloads_total{{result="{k}"}} {n}')
            return "\n".join(out) + "\n"


def _esc(s: str) -> str:
    return s.replace("\\", "\\\\").replace('"', '\\"')


def serve_metrics(metrics: Metrics, port: int, host: str = "127.0.0.1") -> ThreadingHTTPServer:
    """Serve ``/metrics`` on a daemon thread; returns the server (``shutdown()`` to stop)."""

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            if self.path.split("?")[0] not in ("/metrics", "/"):
                self.send_error(404)
                return
            body = metrics.render().encode()
            self.send_response(200)
            self.send_header("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: Any) -> None:  # scrapes are not news
            pass

    server = ThreadingHTTPServer((host, port), Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, name="sopctl-metrics", daemon=True).start()
    return server


class EventLog:
    """Runner events: a rich line for people, or one JSON object per line for machines."""

    def __init__(self, fmt: str = "rich", stream: TextIO | None = None, quiet: bool = False):
        self.fmt = fmt
        self.stream = stream
        self.quiet = quiet

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

        style = {"error": "bold red", "warning": "yellow"}.get(level, "dim")
        stamp = now.astimezone().strftime("%H:%M:%S")
        err_console().print(f"[{style}]{stamp} {level:<7}[/] {escape(message)}", markup=True,
                            highlight=False)
