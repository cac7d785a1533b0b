"""10,000 groups × one message through sopctl's Dispatcher vs a bare httpx client.

Both send the same JSON POSTs, with the same concurrency, to the same loopback server
(answering every request after 10 ms, no rate limits), in the same run. The server runs in
its own process so that it does not share the client's interpreter.

    python benchmarks/delivery_bench.py [--groups 10000] [--concurrency 200] [--delay 0.01]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing as mp
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.fakes.server import FakeServer, Request, Response


class CountingServer(FakeServer):
    """200 {"ok": true} after the delay; ``GET /count`` says how many posts arrived per path
    and how many keys arrived twice."""

    def __init__(self, **kw: object) -> None:
        super().__init__(**kw)  # type: ignore[arg-type]
        self.keys: dict[str, int] = {}

    def handle(self, req: Request) -> Response:
        if req.method == "GET":
            dup = sum(1 for n in self.keys.values() if n > 1)
            return Response(200, {"posts": sum(self.keys.values()), "duplicates": dup})
        key = req.headers.get("idempotency-key", "")
        self.keys[key] = self.keys.get(key, 0) + 1
        return Response(200, {"ok": True})

    def _answer(self, req: Request) -> tuple[Response, float]:  # no request log: keep it lean
        if req.method == "GET":
            return self.handle(req), 0.0
        return self.handle(req), self.delay

    def _dispatch(self, req: Request) -> tuple[Response, float]:
        return self._answer(req)


def serve(delay: float, q: mp.Queue) -> None:
    srv = CountingServer(delay=delay).start()
    q.put(srv.port)
    q.get()  # wait for "stop"
    srv.stop()


def messages(n: int, run: str) -> list:
    from sopctl.run.channels.base import OutMessage

    return [OutMessage(key=f"{run}/g{i:05d}/morning/2026-11-24/0", group_id=f"g{i:05d}",
                       group_name=f"美肌福利群{i:05d}", chat_id=None,
                       text=f"早上好！美肌福利群{i:05d}的家人们，今天第3课：防晒的正确顺序 ☀️")
            for i in range(n)]


async def bare(url: str, msgs: list, concurrency: int) -> float:
    import httpx

    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(limits=limits, timeout=10.0) as client:
        it = iter(msgs)
        ok = 0

        async def worker() -> None:
            nonlocal ok
            for m in it:
                body = {"key": m.key, "group_id": m.group_id, "group_name": m.group_name,
                        "chat_id": None, "text": m.text, "format": "text", "mention": "none",
                        "mentions": [], "attachments": [], "kind": m.kind,
                        "timestamp": int(time.time())}
                raw = json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode()
                r = await client.post(url, content=raw, headers={
                    "Content-Type": "application/json; charset=utf-8", "Idempotency-Key": m.key})
                ok += r.status_code == 200 and r.json().get("ok") is True

        t = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        el = time.perf_counter() - t
    assert ok == len(msgs), f"bare client: {ok}/{len(msgs)} ok"
    return el


async def sopctl(url: str, msgs: list, concurrency: int) -> float:
    from sopctl.playbook.model import Channel as ChannelCfg
    from sopctl.run.channels import make_channels
    from sopctl.run.delivery import Dispatcher, Job, make_client

    client = make_client(concurrency=concurrency)
    cfgs = {"hook": ChannelCfg(type="webhook", url=url, secret="${HOOK_SECRET}")}
    chans = make_channels(cfgs, env={"HOOK_SECRET": "bench-secret"}, client=client,
                          state_dir=Path(tempfile.gettempdir()))
    d = Dispatcher(chans, concurrency=concurrency)
    sent = 0
    t = time.perf_counter()
    async for _job, res in d.stream(Job("hook", m, budget_s=1800) for m in msgs):
        sent += res.status == "sent"
    el = time.perf_counter() - t
    await d.aclose()
    await client.aclose()
    assert sent == len(msgs), f"sopctl: {sent}/{len(msgs)} sent"
    return el


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--groups", type=int, default=10_000)
    ap.add_argument("--concurrency", type=int, default=200)
    ap.add_argument("--delay", type=float, default=0.010)
    ap.add_argument("--rounds", type=int, default=1)
    ap.add_argument("--bare-best", type=int, default=16,
                    help="also time the bare client at this (its best) concurrency")
    a = ap.parse_args()
    q: mp.Queue = mp.Queue()
    proc = mp.Process(target=serve, args=(a.delay, q), daemon=True)
    proc.start()
    port = q.get(timeout=30)
    url = f"http://127.0.0.1:{port}/hook"
    try:
        asyncio.run(bare(url, messages(500, "warm"), a.concurrency))
        best_bare = best_sop = float("inf")
        for r in range(a.rounds):
            tb = asyncio.run(bare(url, messages(a.groups, f"bare{r}"), a.concurrency))
            ts = asyncio.run(sopctl(url, messages(a.groups, f"sop{r}"), a.concurrency))
            print(f"round {r + 1}: bare httpx {a.groups / tb:8.0f} msg/s ({tb:5.2f} s)   "
                  f"sopctl {a.groups / ts:8.0f} msg/s ({ts:5.2f} s)")
            best_bare, best_sop = min(best_bare, tb), min(best_sop, ts)
        tbest = asyncio.run(bare(url, messages(a.groups, "barebest"), a.bare_best))
        import httpx

        counts = httpx.get(f"http://127.0.0.1:{port}/count").json()
    finally:
        q.put("stop")
        proc.join(10)
    print(f"groups={a.groups} concurrency={a.concurrency} server delay={a.delay * 1000:.0f} ms")
    print(f"bare httpx : {a.groups / best_bare:8.0f} msg/s  (best {best_bare:.2f} s)")
    print(f"sopctl     : {a.groups / best_sop:8.0f} msg/s  (best {best_sop:.2f} s)")
    print(f"ratio sopctl/bare = {best_bare / best_sop:.2f}  (target >= 0.70); "
          f"sopctl within 20 s: {'yes' if best_sop <= 20 else 'NO'}")
    print(f"bare httpx at concurrency {a.bare_best} (its best here): {a.groups / tbest:8.0f} "
          f"msg/s; sopctl/that = {tbest / best_sop:.2f}")
    print(f"server: {counts['posts']} posts, {counts['duplicates']} keys received twice")


if __name__ == "__main__":
    main()
