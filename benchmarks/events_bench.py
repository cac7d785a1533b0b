"""`sopctl serve` over real sockets, against the same stack answering an empty handler.

Five measurements, each with the server in its own process(es) and the clients in another
(asyncio protocols, keep-alive; closed loop: every connection sends its next signed event
as soon as the previous one is answered, unless a rate is set):

1. baseline: uvicorn + the receiver's guard + a Starlette route that answers 200 without
   looking at the body;
2. sopctl: the real receiver as `sopctl serve` runs it (signature, JSON, and the group
   commit of store + ledger claims in its commit process);
3. sopctl at a fixed offered rate (open loop; default half the sustained rate of 2, spread
   evenly: each connection sends on its own phase, not all at once), for latency below
   saturation;
4. the same while 300 stalled connections sit on the server (half sent a request head and
   no body, half part of a head): normal requests' p99, the server's thread count, and how
   long each stalled connection stays open (the limit is ``--timeout``);
5. the whole `sopctl serve` command (``--workers N``, default 1), saturated: the same plus
   what 2 leaves out, the sender delivering the reactions (on the playbook's console
   channel), the JSON access log, the Prometheus metrics and the welcome ticker;
   client-side figures, and the CPU per event of its two processes with one worker;
   then at half its saturated rate (open loop), for its latency with the sender at work.

1 and 2 run back to back ``--rounds`` times (a shared 2-core machine varies from minute to
minute); each round's pair and the spread are printed, 3 and 4 run once at half the median.

128 connections by default: what a reverse proxy in front of ``serve`` keeps open to it
under load (nginx's ``keepalive 128`` pool, docs/events.md), with every platform's
callbacks for hundreds of groups arriving at once. A group commit gains from concurrency
(more events share a transaction) where the empty handler loses (more connections to
poll), so the ratio depends on the count: ``--sweep 32,64,128,256`` prints both at each.

Rates are 200-answers per second seen by the clients; receipt -> ledger is measured in
the server from the parsed request head to the answer, which is written only after the
event, its member and its ledger claims are committed.

    python benchmarks/events_bench.py [--seconds 10] [--conns 128] [--rounds 3] [--store URL]
    python benchmarks/events_bench.py --against ../other-checkout --rounds 5   # before/after
    python benchmarks/events_bench.py --sweep 32,64,128,256 --seconds 6   # vs concurrency
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing as mp
import os
import signal
import socket
import tempfile
import time
from pathlib import Path

import numpy as np

from sopctl.events.server import sign

SECRET = "bench"
PLAYBOOK = Path(__file__).resolve().parent.parent / "tests" / "events" / "events_playbook.yaml"
TEXTS = ["今天皮肤好多了", "请问多少钱", "加微信领券", "你好", "晒单 +1", "我的订单123没到"]


def event(i: int, tag: str) -> dict:
    kind = ("message", "message", "message", "join", "checkin")[i % 5]
    ev = {"id": f"{tag}-{i}", "type": kind, "group": ("g001", "g002")[i % 2],
          "member": f"m{i % 3000}", "nickname": "北京-美妆-小丽"}
    if kind == "message":
        ev["text"] = TEXTS[i % len(TEXTS)]
    return ev


def requests(n: int, tag: str) -> list[bytes]:
    ts = str(int(time.time()))
    out = []
    for i in range(n):
        body = json.dumps(event(i, tag), ensure_ascii=False).encode()
        out.append((f"POST /events HTTP/1.1\r\nHost: bench\r\nContent-Type: application/json\r\n"
                    f"X-Sopctl-Timestamp: {ts}\r\nX-Sopctl-Signature: {sign(SECRET, ts, body)}"
                    f"\r\nContent-Length: {len(body)}\r\n\r\n").encode() + body)
    return out


# ----------------------------------------------------------------------------- server

class _Times:
    """Metrics stand-in that keeps every request's time (receipt -> answer)."""

    def __init__(self) -> None:
        self.times: list[float] = []

    def request(self, route: str, status: int, seconds: float) -> None:
        if route == "/events" and status == 200:  # a stalled request's 408 is not one
            self.times.append(seconds)

    def ingested(self, *a: object) -> None: ...

    def refused(self, *a: object) -> None: ...

    def claim_latency(self, *a: object) -> None: ...


def _server(mode: str, store: str | None, port_q: mp.Queue, out: str, timeout: float,
            batch: str = "half") -> None:
    """``mode``: "empty" (the baseline), "sopctl" (the commit process) or "thread" (the
    group commit on a thread of the serving process)."""
    from starlette.responses import Response
    from starlette.routing import Route, Router

    from sopctl.events.engine import EventEngine
    from sopctl.events.http import EventServer, Guard, HttpLimits
    from sopctl.events.server import Receiver, ServeConfig
    from sopctl.playbook.loader import load_playbook
    from sopctl.run.ledger import Ledger

    pb = load_playbook(str(PLAYBOOK)).playbook
    d = tempfile.mkdtemp()
    ledger = Ledger(store or f"sqlite:///{d}/ledger.db")
    engine = EventEngine(pb, ledger, name=f"bench-{time.time_ns()}")
    times = _Times()
    limits = HttpLimits(header_timeout=timeout, body_timeout=timeout, max_connections=2000)
    writer = None
    if mode == "sopctl":  # as `sopctl serve` runs it; "thread": the writer thread before it
        from sopctl.events.committer import ProcessWriter

        writer = ProcessWriter(engine, metrics=times, halve=batch == "half")
    receiver = Receiver(engine, ServeConfig(secret=SECRET), metrics=times, writer=writer)
    app = None
    if mode == "empty":
        async def empty(request: object) -> Response:
            return Response(b'{"accepted":1,"actions":0}', 200, media_type="application/json")

        app = Guard(Router([Route("/events", empty, methods=["POST"])]), limits, None, times)
    srv = EventServer(receiver, port=0, limits=limits, metrics=times, app=app)
    port_q.put((srv.port, os.getpid()))
    signal.signal(signal.SIGTERM, lambda *_: None)  # uvicorn raises it again when stopped
    srv.run()  # until SIGTERM
    receiver.close()
    rows = len(ledger.rows(playbook=engine.name))
    ledger.close()
    np.save(out, np.array(times.times))
    Path(out + ".rows").write_text(str(rows))


class Server:
    def __init__(self, mode: str, store: str | None, timeout: float = 10.0,
                 batch: str = "half") -> None:
        ctx = mp.get_context("spawn")
        q = ctx.Queue()
        self.out = tempfile.mktemp(suffix=".npy")
        self.p = ctx.Process(target=_server, args=(mode, store, q, self.out[:-4], timeout,
                                                   batch))
        self.p.start()
        self.port, self.pid = q.get(timeout=60)

    def threads(self) -> int:
        for line in Path(f"/proc/{self.pid}/status").read_text().splitlines():
            if line.startswith("Threads:"):
                return int(line.split()[1])
        return -1

    def stop(self) -> tuple[np.ndarray, int]:
        os.kill(self.pid, 15)
        self.p.join(120)
        rows = int(Path(self.out[:-4] + ".rows").read_text())
        return np.load(self.out), rows


# ----------------------------------------------------------------------------- clients

class _Conn(asyncio.Protocol):
    """One keep-alive connection of the load: a protocol, not streams (the client shares
    the 2 cores with the server: 41-52 us of CPU per request against 56-57 us measured
    for the streams version). Sends request ``start``, ``start + step``, ... each as
    soon as the previous answer is complete (or on its own phase of a fixed rate)."""

    def __init__(self, reqs: list[bytes], start: int, step: int, stop_at: float,
                 rtts: list[float], bad: list[int], every: float, done: asyncio.Future) -> None:
        self.reqs, self.i, self.step, self.stop_at = reqs, start, step, stop_at
        self.rtts, self.bad, self.every, self.done = rtts, bad, every, done
        self.k, self.phase = 0, start / step
        self.buf = b""
        self.t0 = self.t_start = 0.0
        self.loop = asyncio.get_running_loop()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport
        transport.get_extra_info("socket").setsockopt(socket.IPPROTO_TCP,
                                                      socket.TCP_NODELAY, 1)
        self.t_start = time.perf_counter()
        self._next()

    def _next(self) -> None:
        if time.perf_counter() >= self.stop_at or self.i >= len(self.reqs):
            self.transport.close()
            return
        if self.every:  # open loop: this connection's share of a fixed rate
            self.k += 1
            wait = self.t_start + (self.k + self.phase) * self.every - time.perf_counter()
            if wait > 0:
                self.loop.call_later(wait, self._send)
                return
        self._send()

    def _send(self) -> None:
        self.t0 = time.perf_counter()
        self.transport.write(self.reqs[self.i])

    def data_received(self, data: bytes) -> None:
        self.buf += data
        end = self.buf.find(b"\r\n\r\n")
        if end < 0:
            return
        head = self.buf[:end]
        n = 0
        for line in head.split(b"\r\n"):
            if line[:15].lower() == b"content-length:":
                n = int(line[15:])
        if len(self.buf) < end + 4 + n:
            return
        self.buf = self.buf[end + 4 + n:]
        self.rtts.append(time.perf_counter() - self.t0)
        if not head.startswith(b"HTTP/1.1 200"):
            self.bad.append(self.i)
        self.i += self.step
        self._next()

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.done.done():
            self.done.set_result(None)


async def _conn(port: int, reqs: list[bytes], start: int, step: int, stop_at: float,
                rtts: list[float], bad: list[int], every: float = 0.0) -> None:
    loop = asyncio.get_running_loop()
    done = loop.create_future()
    await loop.create_connection(
        lambda: _Conn(reqs, start, step, stop_at, rtts, bad, every, done), "127.0.0.1", port)
    await done


async def _load(port: int, reqs: list[bytes], conns: int, seconds: float, rate: float = 0.0
                ) -> tuple[list[float], int, float]:
    rtts: list[float] = []
    bad: list[int] = []
    t0 = time.perf_counter()
    every = conns / rate if rate else 0.0
    await asyncio.gather(*(_conn(port, reqs, c, conns, t0 + seconds, rtts, bad, every)
                           for c in range(conns)))
    return rtts, len(bad), time.perf_counter() - t0


async def _stall(port: int, n: int, result: list[float]) -> None:
    """A connection that stops mid-request; records how long until the server closed it."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    t0 = time.perf_counter()
    writer.write(b"POST /events HTTP/1.1\r\nHost: x\r\nContent-Length: 200\r\n\r\n{\"a\""
                 if n % 2 else b"POST /events HTTP/1.1\r\nHost: x\r\nX-Sopct")
    try:
        while await reader.read(4096):
            pass
    except ConnectionError:
        pass
    result.append(time.perf_counter() - t0)
    writer.close()


def _client(port: int, reqs: list[bytes], conns: int, seconds: float, stalled: int,
            rate: float, q: mp.Queue) -> None:
    async def main() -> tuple:
        closed: list[float] = []
        stalls = [asyncio.create_task(_stall(port, i, closed)) for i in range(stalled)]
        await asyncio.sleep(0.5 if stalled else 0)
        q.put("stalled")
        cpu = time.process_time()
        res = await _load(port, reqs, conns, seconds, rate)
        cpu = time.process_time() - cpu
        await asyncio.gather(*stalls)
        return (*res, closed, cpu)

    q.put(asyncio.run(main()))


def _cpu_ticks(pid: int) -> tuple[int, int]:
    """CPU ticks (user + system) of process ``pid`` and of its children (the commit
    process) so far; (0, 0) where /proc cannot tell."""
    def ticks(p: int) -> int:
        try:
            f = Path(f"/proc/{p}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            return 0
        return int(f[11]) + int(f[12])

    try:
        kids = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    except OSError:
        kids = []
    return ticks(pid), sum(ticks(int(k)) for k in kids)


def _machine_ticks() -> tuple[int, int]:
    """(busy, all) CPU ticks of the machine so far (idle and I/O wait are not busy)."""
    try:
        f = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    except OSError:
        return 0, 0
    return sum(f) - f[3] - f[4], sum(f)


def drive(server: Server, reqs: list[bytes], conns: int, seconds: float, stalled: int = 0,
          rate: float = 0.0) -> dict:
    ctx = mp.get_context("spawn")
    q = ctx.Queue()
    p = ctx.Process(target=_client, args=(server.port, reqs, conns, seconds, stalled, rate, q))
    p.start()
    assert q.get(timeout=60) == "stalled"
    before = _cpu_ticks(server.pid), _machine_ticks()
    time.sleep(0.3)
    threads = server.threads()
    rtts, bad, elapsed, closed, client_cpu = q.get(timeout=seconds + 600)
    after = _cpu_ticks(server.pid), _machine_ticks()
    p.join()
    times, rows = server.stop()
    ms = np.array(times) * 1000
    ok = max(1, len(rtts) - bad)
    tick = os.sysconf("SC_CLK_TCK")
    serving, commit = ((after[0][i] - before[0][i]) / tick / ok * 1e6 for i in (0, 1))
    busy, total = (after[1][i] - before[1][i] for i in (0, 1))
    return {"n": len(rtts), "bad": bad, "rate": (len(rtts) - bad) / elapsed,
            "cpu": (serving, commit, client_cpu / ok * 1e6, 1 - busy / max(1, total)),
            "p50": float(np.percentile(ms, 50)), "p99": float(np.percentile(ms, 99)),
            "rt_p50": float(np.percentile(np.array(rtts) * 1000, 50)),
            "rt_p99": float(np.percentile(np.array(rtts) * 1000, 99)), "rows": rows,
            "threads": threads, "closed_max": max(closed) if closed else 0.0,
            "stalled": len(closed)}


class CliServer:
    """`sopctl serve --workers N` itself (a subprocess); measured at the client only."""

    def __init__(self, workers: int, store: str | None, source: str | None = None) -> None:
        """``source``: another checkout whose sopctl runs instead of this one's."""
        import subprocess
        import sys

        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = s.getsockname()[1]
        self.dir = tempfile.mkdtemp()
        env = {**os.environ, "SOPCTL_EVENTS_SECRET": SECRET, "SOPCTL_LOG_LEVEL": "WARNING"}
        root = source or str(PLAYBOOK.parents[2])
        env["PYTHONPATH"] = root  # ``-m`` also looks in the working directory first
        self.p = subprocess.Popen(
            [sys.executable, "-m", "sopctl", "serve", str(PLAYBOOK), "--port", str(self.port),
             "--workers", str(workers), "--state-dir", self.dir, "--access-log", "json",
             *(["--store", store] if store else [])], env=env, cwd=root,
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        self.pid = self.p.pid
        end = time.monotonic() + 60
        while time.monotonic() < end:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                return
            except OSError:
                time.sleep(0.2)
        raise RuntimeError("sopctl serve did not start")

    def threads(self) -> int:
        return -1

    def stop(self) -> tuple[np.ndarray, int]:
        self.p.send_signal(signal.SIGTERM)
        self.p.wait(120)
        return np.array([0.0]), -1


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=float, default=10.0)
    ap.add_argument("--conns", type=int, default=128)
    ap.add_argument("--stalled", type=int, default=300)
    ap.add_argument("--timeout", type=float, default=5.0, help="head and body timeout, s")
    ap.add_argument("--store", default=None, help="database URL (default: a fresh SQLite)")
    ap.add_argument("--workers", type=int, default=1,
                    help="workers of the `sopctl serve` command measured last")
    ap.add_argument("--writer", choices=["sopctl", "thread"], default="sopctl",
                    help="sopctl: the commit process `serve` runs; thread: the group "
                    "commit on a thread of the serving process (for comparison)")
    ap.add_argument("--batch", choices=["half", "all"], default="half",
                    help="half: a transaction takes at most half the requests in flight, as "
                    "`serve` does; all: whatever has arrived (for comparison)")
    ap.add_argument("--rounds", type=int, default=3,
                    help="empty-handler / sopctl pairs to run (the median is reported)")
    ap.add_argument("--rate", type=float, default=0.0,
                    help="offered rate for the latency runs (default: half the sustained)")
    ap.add_argument("--against", metavar="DIR", default=None,
                    help="only the whole command: --rounds pairs, the sopctl of checkout DIR "
                    "then this one's, alternately (before/after a change)")
    ap.add_argument("--sweep", metavar="N,N,...", default=None,
                    help="only the saturated pairs, at each of these connection counts "
                    "(e.g. 32,64,128,256): how rate and ratio change with concurrency")
    a = ap.parse_args()
    n = int(a.seconds * 20000)
    print(f"cores: {os.cpu_count()}, load average {os.getloadavg()[0]:.2f}; "
          f"{a.conns} keep-alive connections, {a.seconds:.0f} s per run")
    if a.against:
        return against(a, n)

    def server() -> Server:
        return Server(a.writer, a.store, a.timeout, a.batch)

    if a.sweep:
        return sweep(a, n, server, [int(c) for c in a.sweep.split(",")])

    pairs = rounds(a, n, server, a.conns)
    base, real = sorted(pairs, key=lambda p: p[1]["rate"])[len(pairs) // 2]  # the median
    rate = a.rate or round(real["rate"] / 2)  # latency below saturation
    paced = drive(server(), requests(n, "p"), a.conns, a.seconds, rate=rate)
    stall = drive(server(), requests(n, "t"), a.conns, a.seconds, a.stalled, rate=rate)
    runs = [("empty handler", base), ("sopctl serve", real), (f"at {rate}/s", paced),
            (f"+{a.stalled} stalled", stall)]
    w = drive(CliServer(a.workers, a.store), requests(n, "w"), a.conns, a.seconds)
    cpu = ("" if a.workers > 1 else "   CPU us/event: serving {:.0f}, commit {:.0f}"
           .format(*w["cpu"][:2]))
    print(f"the command, `sopctl serve --workers {a.workers}`: {w['rate']:7.0f} signed "
          f"events/s ({w['bad']} not 200, {w['rate'] / base['rate']:.2f}x the median round's "
          f"empty handler)   client round trip p99 {w['rt_p99']:6.2f} ms" + cpu)
    # its latency below saturation, sender at work: the answer follows the commit, so the
    # client's round trip bounds receipt -> ledger from above
    w_rate = round(w["rate"] / 2)
    wp = drive(CliServer(a.workers, a.store), requests(n, "wp"), a.conns, a.seconds,
               rate=w_rate)
    print(f"the command at {w_rate}/s: {wp['rate']:7.0f} signed events/s ({wp['bad']} not "
          f"200)   client round trip p50 {wp['rt_p50']:6.2f} ms  p99 {wp['rt_p99']:6.2f} ms")
    print("the round with the median sopctl rate:")
    for name, r in runs:
        print(f"{name:>14}: {r['rate']:7.0f} signed events/s ({r['bad']} not 200)   "
              f"receipt->ledger p50 {r['p50']:6.2f} ms  p99 {r['p99']:6.2f} ms   "
              f"client round trip p99 {r['rt_p99']:6.2f} ms   server threads {r['threads']}")
    print("CPU per answered event (us; /proc): serving process, commit process, client; "
          "machine idle")
    for name, r in runs[:2]:
        serving, commit, client, idle = r["cpu"]
        print(f"{name:>14}: {serving:6.0f} {commit:6.0f} {client:6.0f}   idle {idle:.0%}")
    rates = sorted(r["rate"] for _b, r in pairs)
    ratios = sorted(r["rate"] / b["rate"] for b, r in pairs)
    print(f"sopctl serve over {a.rounds} round(s): {rates[0]:.0f}-{rates[-1]:.0f}/s; ratio to "
          f"the empty handler {ratios[0]:.2f}-{ratios[-1]:.2f} (median "
          f"{ratios[len(ratios) // 2]:.2f})")
    print(f"stalled: {stall['stalled']} connections, all closed by the server; the longest "
          f"stayed {stall['closed_max']:.2f} s (timeout {a.timeout:g} s); server threads "
          f"{paced['threads']} without them, {stall['threads']} with them; p99 at {rate}/s "
          f"{paced['p99']:.2f} -> {stall['p99']:.2f} ms")
    ok = (real["rate"] >= 3000, real["rate"] >= 0.5 * base["rate"], paced["p99"] < 50,
          stall["closed_max"] < a.timeout + 1.5)
    print("targets on the median round (>= 3000/s, >= 0.5x empty, p99 < 50 ms at the paced rate, "
          "stalled closed in time): " + ", ".join("met" if x else "NOT met" for x in ok))
    print(f"load average at the end {os.getloadavg()[0]:.2f}")


def rounds(a: argparse.Namespace, n: int, server, conns: int, label: str = "") -> list:
    """``--rounds`` pairs, the empty handler and sopctl back to back, each printed."""
    pairs = []
    for r in range(a.rounds):
        tag = f"{conns}{r}"
        base = drive(Server("empty", None), requests(n, "e" + tag), conns, a.seconds)
        real = drive(server(), requests(n, "s" + tag), conns, a.seconds)
        pairs.append((base, real))
        print(f"{label}round {r + 1}: empty handler {base['rate']:7.0f}/s, sopctl serve "
              f"{real['rate']:6.0f}/s ({real['bad']} not 200), ratio "
              f"{real['rate'] / base['rate']:.2f}; receipt->ledger p99 {real['p99']:.2f} ms; "
              f"{real['rows']} ledger rows for {real['n']} events", flush=True)
    return pairs


def sweep(a: argparse.Namespace, n: int, server, counts: list[int]) -> None:
    """Empty handler / sopctl pairs at each connection count; the median round of each."""
    table = []
    for conns in counts:
        pairs = rounds(a, n, server, conns, f"{conns} connections, ")
        table.append((conns, pairs))
    print("connections | empty handler/s | sopctl/s | ratio | receipt->ledger p99 ms | "
          "CPU us/event serving, commit, client | idle  (the median round of each)")
    for conns, pairs in table:
        base, real = sorted(pairs, key=lambda p: p[1]["rate"] / p[0]["rate"])[len(pairs) // 2]
        serving, commit, client, idle = real["cpu"]
        ratios = sorted(r["rate"] / b["rate"] for b, r in pairs)
        print(f"{conns:11d} | {base['rate']:15.0f} | {real['rate']:8.0f} | "
              f"{real['rate'] / base['rate']:.2f} ({ratios[0]:.2f}-{ratios[-1]:.2f}) | "
              f"{real['p99']:22.2f} | {serving:.0f}, {commit:.0f}, {client:.0f} | {idle:.0%}")
    print(f"load average at the end {os.getloadavg()[0]:.2f}")


def against(a: argparse.Namespace, n: int) -> None:
    """The whole command from another checkout and from this one, alternately."""
    got: dict[str, list[dict]] = {a.against: [], "this checkout": []}
    for r in range(a.rounds):
        for name in got:
            source = None if name == "this checkout" else a.against
            x = drive(CliServer(a.workers, a.store, source), requests(n, f"v{r}{len(name)}"),
                      a.conns, a.seconds)
            got[name].append(x)
            serving, commit, client, idle = x["cpu"]
            print(f"round {r + 1}, {name}: {x['rate']:6.0f} signed events/s ({x['bad']} not "
                  f"200), client round trip p99 {x['rt_p99']:6.2f} ms; CPU us/event serving "
                  f"{serving:.0f}, commit {commit:.0f}, client {client:.0f}; idle {idle:.0%}",
                  flush=True)
    for name, xs in got.items():
        med = sorted(xs, key=lambda x: x["rate"])[len(xs) // 2]
        print(f"{name}: {min(x['rate'] for x in xs):.0f}-{max(x['rate'] for x in xs):.0f}/s, "
              f"median round {med['rate']:.0f}/s (serving {med['cpu'][0]:.0f} us/event, "
              f"client round trip p99 {med['rt_p99']:.2f} ms)")


if __name__ == "__main__":
    main()
