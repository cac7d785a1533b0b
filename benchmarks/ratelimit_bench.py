"""The cost of a rate-limit token per message: the host-wide limiter (files under flock,
and SQLite in WAL mode) against the in-memory one, in the same run.

Each message takes its tokens and gives them back (``acquire`` + ``release``, what the
delivery loop does around every request), on a virtual clock moved so that no window is
ever full: what is measured is the bookkeeping, not waiting. Shapes:

- one robot: every message to one WeCom robot (20 a minute);
- telegram: 3,000 chats round robin behind one bot (1/s and 20/min per chat, 30/s per bot),
  so ~1,500 chats hold recent completions at any time;
- two processes: "one robot" in two processes at once on one store (other robots each),
  so every look waits for the other process's lock;
- dispatcher: the whole send path for scale: ``--messages`` posts through the Dispatcher
  (200 at once) to 500 webhooks (``rate_per_minute: 20`` each, so every post takes a token
  and none waits) on a loopback receiver in its own process (tests/chaos/sink.py),
  real clock; the figure is wall time per message.

    python benchmarks/ratelimit_bench.py [--messages 5000] [--rounds 3]
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing as mp
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sopctl.run.hostlimit import HostRateLimiter, open_store
from sopctl.run.ratelimit import Limit, RateLimiter
from tests.fakes import VirtualClock

KINDS = ("memory", "files", "sqlite")


def limiter(kind: str, tmp: Path, clock: VirtualClock):
    if kind == "memory":
        return RateLimiter(clock)
    return HostRateLimiter(open_store(tmp / ("rl" if kind == "files" else "rl.db")), clock)


def shape(name: str, i: int, who: int = 0) -> tuple[list[Limit], float]:
    """The limits of message ``i`` and how far the virtual clock moves after it."""
    if name == "telegram":
        chat = f"telegram:bot:{i % 3000}"
        return [Limit(chat, 1, 1.0), Limit(chat, 20, 60.0), Limit("telegram:bot", 30, 1.0)], 0.04
    return [Limit(f"wecom-robot:{who}", 20, 60.0)], 3.1


async def _loop(lim, clock: VirtualClock, name: str, n: int, who: int = 0) -> float:
    t = time.perf_counter()
    for i in range(n):
        limits, step = shape(name, i, who)
        lease = await lim.acquire(limits)
        lease.release()
        clock.advance(step)
    return time.perf_counter() - t


def one(kind: str, name: str, n: int) -> float:
    """Microseconds per message."""
    with tempfile.TemporaryDirectory() as d:
        clock = VirtualClock()
        lim = limiter(kind, Path(d), clock)
        asyncio.run(_loop(lim, clock, name, 200))  # warm: files made, records in place
        return asyncio.run(_loop(lim, clock, name, n)) / n * 1e6


def _child(kind: str, d: str, who: int, n: int, go, q) -> None:
    clock = VirtualClock()
    lim = limiter(kind, Path(d), clock)
    asyncio.run(_loop(lim, clock, "one robot", 50, who))
    go.wait()
    q.put(asyncio.run(_loop(lim, clock, "one robot", n, who)) / n * 1e6)


def contended(kind: str, n: int) -> float:
    """Microseconds per message in each of two processes sending at once (mean)."""
    ctx = mp.get_context("spawn")
    with tempfile.TemporaryDirectory() as d:
        go, q = ctx.Event(), ctx.Queue()
        ps = [ctx.Process(target=_child, args=(kind, d, w, n, go, q)) for w in range(2)]
        for p in ps:
            p.start()
        time.sleep(1.0)  # both warmed up and waiting
        go.set()
        got = [q.get(timeout=600) for _ in ps]
        for p in ps:
            p.join()
    return statistics.mean(got)


async def _dispatch(kind: str, d: Path, url: str, n: int, run: str) -> float:
    from sopctl.playbook.model import Channel as ChannelCfg
    from sopctl.run.channels import make_channels
    from sopctl.run.channels.base import OutMessage
    from sopctl.run.clock import SystemClock
    from sopctl.run.delivery import DeliveryContext, Dispatcher, Job, make_client

    clock = SystemClock()
    lim = RateLimiter(clock) if kind == "memory" else HostRateLimiter(
        open_store(d / ("rl" if kind == "files" else "rl.db")), clock)
    client = make_client(concurrency=200)
    cfgs = {f"h{i}": ChannelCfg(type="webhook", url=f"{url}/{run}/{i}", rate_per_minute=20)
            for i in range(500)}
    chans = make_channels(cfgs, env={}, client=client, state_dir=d,
                          ctx=DeliveryContext(clock=clock, limiter=lim))
    disp = Dispatcher(chans, concurrency=200)
    jobs = [Job(f"h{i % 500}", OutMessage(key=f"{run}/{i}", group_id=f"g{i}",
                                          group_name=f"群{i}", chat_id=None, text="早上好"),
                budget_s=600) for i in range(n)]
    t = time.perf_counter()
    sent = sum([res.status == "sent" async for _, res in disp.stream(jobs)])
    el = time.perf_counter() - t
    await disp.aclose()
    await client.aclose()
    assert sent == n, f"{kind}: {sent}/{n} sent"
    return el


def dispatch(kind: str, url: str, n: int, run: str) -> float:
    """Microseconds of wall time per message through the dispatcher."""
    with tempfile.TemporaryDirectory() as d:
        return asyncio.run(_dispatch(kind, Path(d), url, n, run)) / n * 1e6


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--messages", type=int, default=5000)
    ap.add_argument("--rounds", type=int, default=3, help="alternating rounds; medians shown")
    a = ap.parse_args()
    print(f"load average {Path('/proc/loadavg').read_text().split()[:3]}")
    res: dict[tuple[str, str], list[float]] = {}
    from tests.chaos.sink import Sink

    with tempfile.TemporaryDirectory() as d, Sink(Path(d) / "received.log") as sink:
        dispatch("memory", sink.url, 500, "warm")
        for r in range(a.rounds):
            for kind in KINDS[r % 3:] + KINDS[:r % 3]:  # each first in turn
                res.setdefault(("dispatcher", kind), []).append(
                    dispatch(kind, sink.url, a.messages, f"{kind}{r}"))
    for _ in range(a.rounds):
        for name in ("one robot", "telegram"):
            for kind in KINDS:
                res.setdefault((name, kind), []).append(one(kind, name, a.messages))
        for kind in KINDS:
            res.setdefault(("two processes", kind), []).append(contended(kind, a.messages))
    print(f"{'shape':<14} {'kind':<7} {'us/message':>10} {'x memory':>9}  rounds (min-max)")
    for (name, kind), v in res.items():
        us = statistics.median(v)
        base = statistics.median(res[(name, "memory")])
        print(f"{name:<14} {kind:<7} {us:>10.1f} {us / base:>9.1f}  {min(v):.1f}-{max(v):.1f}")
    print(f"load average {Path('/proc/loadavg').read_text().split()[:3]}")


if __name__ == "__main__":
    main()
