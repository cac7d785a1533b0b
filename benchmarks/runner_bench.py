"""Runner figures: a 10,000-group 07:30 burst through the whole claim/send/record path against
a loopback platform answering in 10 ms, compared with a bare httpx client sending the same
requests to the same server in the same run; then a 60,000-occurrence day: resident memory
and CPU while idle.

    python benchmarks/runner_bench.py [--groups 10000] [--rounds 3] [--day-groups 5000]

The bare client and the runner take turns (``--rounds`` each), so a machine whose load
changes during the run weighs on both alike; the ratio printed is the median of the rounds.
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing as mp
import resource
import socket
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

HEAD = """\
version: 1
name: 压测
timezone: Asia/Shanghai
positioning: {{type: product, purpose: 压测, name_pattern: "压测群{{n:05}}"}}
caps: {{per_group_per_day: 24}}
timetable:
{slots}
channels:
  out: {{type: {ch}}}
channel: out
groups:
"""


def write_playbook(path: Path, groups: int, slots: list[str], channel: str) -> None:
    sl = "".join(f"  - {{id: s{i}, kind: knowledge, at: \"{at}\", "
                 f"text: \"第{i}条 {{group_name}}\"}}\n" for i, at in enumerate(slots))
    with path.open("w", encoding="utf-8") as f:
        f.write(HEAD.format(slots=sl, ch=channel))
        for i in range(groups):
            f.write(f"  - {{id: g{i:05d}, opened: 2026-11-01}}\n")


# ----------------------------------------------------------------------------- loopback server

def _serve(port: int, delay: float, ready: mp.Event, count: mp.Value) -> None:
    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                n = 0
                for line in head.split(b"\r\n"):
                    if line.lower().startswith(b"content-length:"):
                        n = int(line.split(b":")[1])
                if n:
                    await reader.readexactly(n)
                await asyncio.sleep(delay)
                with count.get_lock():
                    count.value += 1
                body = b'{"ok":true}'
                writer.write(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                             b"Content-Length: %d\r\n\r\n%s" % (len(body), body))
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()

    async def main() -> None:
        srv = await asyncio.start_server(handle, "127.0.0.1", port, backlog=1024)
        ready.set()
        async with srv:
            await srv.serve_forever()

    asyncio.run(main())


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# ----------------------------------------------------------------------------- burst

async def bare_httpx(url: str, n: int, concurrency: int) -> float:
    import json

    from sopctl.run.delivery import make_client

    client = make_client(concurrency=concurrency)
    sem = asyncio.Semaphore(concurrency)

    async def one(i: int) -> None:
        body = json.dumps({"key": f"g{i:05d}/s0/2026-11-24/0", "text": f"第0条 压测群{i:05d}"},
                          ensure_ascii=False).encode()
        async with sem:
            r = await client.post(url, content=body,
                                  headers={"Content-Type": "application/json"})
            r.json()

    t = time.perf_counter()
    await asyncio.gather(*(one(i) for i in range(n)))
    el = time.perf_counter() - t
    await client.aclose()
    return el


class NullChannel:
    """Accepts every message at once: what remains is the runner's own work."""

    name, type = "out", "null"

    async def send(self, msg, *, deadline=None):
        from sopctl.run.channels.base import SendResult

        return SendResult("sent")

    async def aclose(self) -> None:
        pass


def burst(groups: int, rounds: int) -> None:
    from datetime import datetime
    from zoneinfo import ZoneInfo

    from sopctl.playbook.model import Channel as Cfg
    from sopctl.run.channels import make_channels
    from sopctl.run.clock import FakeClock
    from sopctl.run.delivery import make_client
    from sopctl.run.hostlimit import host_context
    from sopctl.run.ledger import Ledger
    from sopctl.run.reload import check_playbook
    from sopctl.run.runner import Book, Runner, RunOptions

    port = free_port()
    ready, count = mp.Event(), mp.Value("i", 0)
    srv = mp.Process(target=_serve, args=(port, 0.010, ready, count), daemon=True)
    srv.start()
    ready.wait(10)
    url = f"http://127.0.0.1:{port}/hook"
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        pb = tmp / "pb.yaml"
        write_playbook(pb, groups, ["07:30"], "console")
        t = time.perf_counter()
        checked = check_playbook(str(pb))
        assert checked.playbook is not None, checked.errors[:3]
        book = Book(checked)
        load_s = time.perf_counter() - t

        clock = FakeClock(datetime(2026, 11, 24, 7, 30, 1, tzinfo=ZoneInfo("Asia/Shanghai")))

        async def go(ledger):
            client = make_client(concurrency=200)
            # the limiter `sopctl run` uses: shared with every process on the host
            chans = make_channels({"out": Cfg(type="webhook", url=url)}, env={}, client=client,
                                  state_dir=tmp, ctx=host_context(tmp))
            runner = Runner([book], ledger, clock, RunOptions(once=True), channels=chans)
            t0 = time.perf_counter()
            s = await runner.run_once()
            el = time.perf_counter() - t0
            await client.aclose()
            return s, el, runner.metrics

        bares, els, ok = [], [], True
        for i in range(rounds):
            bares.append(asyncio.run(bare_httpx(url, groups, 200)))
            count.value = 0
            ledger = Ledger(f"sqlite:///{tmp / f'round{i}.db'}")
            _summary, el, metrics = asyncio.run(go(ledger))
            els.append(el)
            counts = ledger.counts()
            ok = ok and counts == {"sent": groups} and count.value == groups
            ledger.close()

        # the runner's own cost: the same burst to a channel that accepts at once
        ledger2 = Ledger(f"sqlite:///{tmp / 'ledger2.db'}")

        async def go_null():
            runner = Runner([book], ledger2, clock, RunOptions(once=True),
                            channels={"out": NullChannel()})
            t0 = time.perf_counter()
            await runner.run_once()
            return time.perf_counter() - t0

        el_null = asyncio.run(go_null())
        null_ok = ledger2.counts() == {"sent": groups}
        ledger2.close()
    srv.terminate()
    ratios = sorted(b / e for b, e in zip(bares, els, strict=True))
    print(f"burst: {groups} groups at 07:30 via webhook -> loopback (10 ms per request), "
          f"{rounds} rounds")
    print(f"  playbook load+lint: {load_s:.2f} s")
    for i, (b, e) in enumerate(zip(bares, els, strict=True)):
        print(f"  round {i + 1}: bare httpx (200 concurrent) {b:.2f} s = {groups / b:,.0f} "
              f"req/s; sopctl run --once (plan, claim, send, record) {e:.2f} s = "
              f"{groups / e:,.0f} msg/s; ratio {b / e:.2f}x")
    print(f"  ratio to bare httpx, median of {rounds}: {ratios[len(ratios) // 2]:.2f}x "
          f"(range {ratios[0]:.2f}-{ratios[-1]:.2f}x)")
    n_claims = metrics.registry.get_sample_value("sopctl_claim_latency_seconds_count") or 0
    claim_s = metrics.registry.get_sample_value("sopctl_claim_latency_seconds_sum") or 0.0
    print(f"  claim batches: {n_claims:.0f}, mean claim latency "
          f"{1000 * claim_s / max(1, n_claims):.1f} ms")
    print(f"  every round: ledger all sent, server received each once: {ok}")
    print(f"  runner alone (instant channel): {el_null:.2f} s = {groups / el_null:,.0f} msg/s "
          f"(plan, claim, dispatch, record; ledger consistent: {null_ok})")


# ----------------------------------------------------------------------------- a whole day

def _day_child(groups: int, slots: int, out: mp.Queue) -> None:
    from datetime import datetime, timedelta
    from zoneinfo import ZoneInfo

    from sopctl.playbook.model import Channel as Cfg
    from sopctl.run.channels import make_channels
    from sopctl.run.clock import SystemClock
    from sopctl.run.delivery import DeliveryContext
    from sopctl.run.ledger import Ledger
    from sopctl.run.reload import check_playbook
    from sopctl.run.runner import Book, Runner, RunOptions

    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        pb = tmp / "pb.yaml"
        write_playbook(pb, groups, [f"{7 + i:02d}:00" for i in range(slots)], "file")
        sh = ZoneInfo("Asia/Shanghai")
        book = Book(check_playbook(str(pb)))
        plan_n = len(list(book.plan.window(datetime(2026, 11, 24, tzinfo=sh),
                                           datetime(2026, 11, 24, 23, 59, tzinfo=sh))))
        clock = SystemClock(datetime(2026, 11, 24, 6, 59, 52, tzinfo=sh))
        ledger = Ledger(f"sqlite:///{tmp / 'ledger.db'}")
        chans = make_channels({"out": Cfg(type="file", path=str(tmp / "out.jsonl"))}, env={},
                              client=None, state_dir=tmp, ctx=DeliveryContext())
        runner = Runner([book], ledger, clock, RunOptions(), channels=chans)

        async def main():
            task = asyncio.create_task(runner.run_forever())
            await asyncio.sleep(2)  # first tick done; waiting for 07:00
            c0, w0 = time.process_time(), time.perf_counter()
            await asyncio.sleep(5)
            idle_cpu = (time.process_time() - c0) / (time.perf_counter() - w0)
            while ledger.counts().get("sent", 0) < groups:  # the 07:00 burst
                await asyncio.sleep(0.2)
            runner.stop()
            await task
            return idle_cpu

        t = time.perf_counter()
        idle = asyncio.run(main())
        _ = timedelta
        out.put({"plan": plan_n, "idle_cpu": idle, "sent": ledger.counts().get("sent", 0),
                 "wall": time.perf_counter() - t,
                 "maxrss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024})


def day(groups: int, slots: int) -> None:
    ctx = mp.get_context("spawn")  # a fresh interpreter: its memory is the runner's alone
    q = ctx.Queue()
    p = ctx.Process(target=_day_child, args=(groups, slots, q))
    p.start()
    r = q.get(timeout=600)
    p.join()
    print(f"day: {groups} groups x {slots} slots = {r['plan']:,} occurrences in one day")
    print(f"  idle CPU while waiting for the next occurrence: {100 * r['idle_cpu']:.2f} % of "
          "one core (5 s measured)")
    print(f"  07:00 burst to the file outbox: {r['sent']:,} sent")
    print(f"  runner resident memory (ru_maxrss): {r['maxrss_mb']:.0f} MB "
          f"({'under' if r['maxrss_mb'] < 300 else 'OVER'} 300 MB)")


if __name__ == "__main__":
    ap = argparse.ArgumentParser()
    ap.add_argument("--groups", type=int, default=10_000)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--day-groups", type=int, default=5_000)
    ap.add_argument("--slots", type=int, default=12)
    a = ap.parse_args()
    burst(a.groups, a.rounds)
    day(a.day_groups, a.slots)
