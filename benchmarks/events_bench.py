"""Event receiver throughput and latency on loopback.

Posts signed generic events to `sopctl serve`'s HTTP receiver at a fixed rate (default
1,000/s for 10 s) and reports the sustained rate and the p50/p99 time from receipt to the
reaction's ledger row (measured in the server), plus client round trips. A bare
ThreadingHTTPServer that only reads the body and answers 200 is measured the same way in
the same run, as the baseline.

    python benchmarks/events_bench.py [--rate 1000] [--seconds 10]
"""

from __future__ import annotations

import argparse
import http.client
import json
import multiprocessing as mp
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from queue import Queue

import numpy as np

from sopctl.events.engine import EventEngine
from sopctl.events.server import EventServer, ServeConfig, sign
from sopctl.playbook.loader import load_playbook
from sopctl.run.ledger import Ledger

SECRET = "bench"
PLAYBOOK = Path(__file__).resolve().parent.parent / "tests" / "events" / "events_playbook.yaml"
TEXTS = ["今天皮肤好多了", "请问多少钱", "加微信领券", "你好", "晒单 +1", "我的订单123没到"]


class _Bare(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True

    def log_message(self, *a: object) -> None:
        pass

    def do_POST(self) -> None:
        t0 = time.perf_counter()
        self.rfile.read(int(self.headers.get("Content-Length", "0")))
        self.server.latencies.append(time.perf_counter() - t0)  # type: ignore[attr-defined]
        self.send_response(200)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"{}")


def event(i: int) -> dict:
    kind = ("message", "message", "message", "join", "checkin")[i % 5]
    ev = {"id": f"b{i}", "type": kind, "group": ("g001", "g002")[i % 2],
          "member": f"m{i % 3000}", "nickname": "北京-美妆-小丽"}
    if kind == "message":
        ev["text"] = TEXTS[i % len(TEXTS)]
    return ev


def _client(port: int, rate: int, seconds: float, first: int, step: int, out: Queue) -> None:
    """One paced sender on one keep-alive connection (runs in the client process)."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    rtts, errors, n = [], 0, int(rate * seconds)
    start = time.perf_counter()
    for k in range(n):
        i = first + k * step
        delay = start + k / rate - time.perf_counter()
        if delay > 0:
            time.sleep(delay)
        body = json.dumps(event(i), ensure_ascii=False).encode()
        ts = str(int(time.time()))
        t0 = time.perf_counter()
        try:
            conn.request("POST", "/events", body, {
                "X-Sopctl-Timestamp": ts, "X-Sopctl-Signature": sign(SECRET, ts, body),
                "Content-Type": "application/json"})
            r = conn.getresponse()
            r.read()
            errors += r.status != 200
        except OSError:
            errors += 1
            conn.close()
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        rtts.append(time.perf_counter() - t0)
    out.put((rtts, errors, time.perf_counter() - start))


def _clients(port: int, rate: int, seconds: float, conns: int, out: Queue) -> None:
    q: Queue = Queue()
    ts = [threading.Thread(target=_client, args=(port, rate / conns, seconds, c, conns, q))
          for c in range(conns)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    parts = [q.get() for _ in ts]
    out.put(([x for p in parts for x in p[0]], sum(p[1] for p in parts),
             max(p[2] for p in parts)))


def drive(port: int, rate: int, seconds: float, conns: int = 16
          ) -> tuple[list[float], int, float]:
    """Senders in a separate process, so they do not share the server's interpreter lock."""
    ctx = mp.get_context("fork")
    q = ctx.Queue()
    p = ctx.Process(target=_clients, args=(port, rate, seconds, conns, q))
    p.start()
    res = q.get()
    p.join()
    return res


def run(server: ThreadingHTTPServer, rate: int, seconds: float) -> dict:
    server.latencies = []  # type: ignore[attr-defined]
    threading.Thread(target=server.serve_forever, daemon=True).start()
    rtts, errors, elapsed = drive(server.server_address[1], rate, seconds)
    server.shutdown()
    server.server_close()
    lat = np.array(server.latencies) * 1000  # type: ignore[attr-defined]
    rt = np.array(rtts) * 1000
    return {"n": len(rtts), "errors": errors, "rate": len(rtts) / elapsed,
            "p50": float(np.percentile(lat, 50)), "p99": float(np.percentile(lat, 99)),
            "rt_p50": float(np.percentile(rt, 50)), "rt_p99": float(np.percentile(rt, 99))}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rate", type=int, default=1000)
    ap.add_argument("--seconds", type=float, default=10.0)
    ap.add_argument("--store", default=None, help="database URL (default: a fresh SQLite file)")
    a = ap.parse_args()
    pb = load_playbook(str(PLAYBOOK)).playbook
    with tempfile.TemporaryDirectory() as d:
        ledger = Ledger(a.store or f"sqlite:///{d}/ledger.db")
        engine = EventEngine(pb, ledger, name=f"bench-{time.time_ns()}")
        srv = EventServer(("127.0.0.1", 0), engine, ServeConfig(secret=SECRET))
        res = run(srv, a.rate, a.seconds)
        rows = len(ledger.rows(playbook=engine.name))
        ledger.close()
    base = run(ThreadingHTTPServer(("127.0.0.1", 0), _Bare), a.rate, a.seconds)
    print(f"events: {res['n']} sent at target {a.rate}/s for {a.seconds:.0f} s, "
          f"{res['errors']} errors, {rows} ledger rows")
    print(f"sopctl serve : sustained {res['rate']:7.0f} ev/s   receipt->record p50 "
          f"{res['p50']:6.2f} ms  p99 {res['p99']:6.2f} ms   "
          f"round trip p99 {res['rt_p99']:6.2f} ms")
    print(f"bare baseline: sustained {base['rate']:7.0f} ev/s   receipt->answer p50 "
          f"{base['p50']:6.2f} ms  p99 {base['p99']:6.2f} ms   "
          f"round trip p99 {base['rt_p99']:6.2f} ms")
    print(f"ratio sopctl/bare sustained rate: {res['rate'] / base['rate']:.2f}; "
          f"p99 target < 200 ms: {'met' if res['p99'] < 200 else 'NOT met'}")


if __name__ == "__main__":
    main()
