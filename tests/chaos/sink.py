"""A fast loopback webhook receiver in its own process: it logs every request it got
(receipt time, ledger key) so a test can count what the platform really received, whatever
happens to the senders. Requests to a path under ``/slow`` are answered after ``slow_delay``
(one runner's platform, or its network, answering slowly). Also used by
benchmarks/scaling_bench.py."""

from __future__ import annotations

import asyncio
import json
import multiprocessing as mp
import os
import signal
import socket
import time
from pathlib import Path


def _serve(port: int, log: str, delay: float, slow_delay: float, ready: mp.Event,
           count: mp.Value) -> None:
    out = open(log, "a", encoding="utf-8", buffering=1 << 16)  # noqa: SIM115 (flushed below)

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                slow = head.split(b" ", 2)[1].startswith(b"/slow")
                n = 0
                for line in head.split(b"\r\n"):
                    if line.lower().startswith(b"content-length:"):
                        n = int(line.split(b":")[1])
                body = await reader.readexactly(n) if n else b"{}"
                try:
                    key = json.loads(body).get("key", "?")
                except ValueError:
                    key = "?"
                out.write(f"{time.time():.6f}\t{key}\n")  # received: logged before answering
                with count.get_lock():
                    count.value += 1
                wait = slow_delay if slow else delay
                if wait:
                    await asyncio.sleep(wait)
                writer.write(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                             b"Content-Length: 11\r\n\r\n{\"ok\":true}")
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()

    async def flusher() -> None:
        while True:
            await asyncio.sleep(0.1)
            out.flush()

    async def main() -> None:
        stop = asyncio.Event()
        asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
        srv = await asyncio.start_server(handle, "127.0.0.1", port, backlog=4096)
        ready.set()
        f = asyncio.create_task(flusher())
        async with srv:
            await stop.wait()
        f.cancel()
        out.flush()
        out.close()

    asyncio.run(main())


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Sink:
    """``with Sink(tmp / "received.log") as s:`` → POST to ``s.url``; ``s.received()``."""

    def __init__(self, log: Path, delay: float = 0.0, slow_delay: float = 0.0) -> None:
        self.log, self.delay = Path(log), delay
        self.port = free_port()
        self.count = mp.Value("i", 0)
        self._ready = mp.Event()
        self._p = mp.get_context("fork").Process(
            target=_serve, args=(self.port, str(self.log), delay, slow_delay, self._ready,
                                 self.count),
            daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hook"

    @property
    def slow_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/slow/hook"

    def __enter__(self) -> Sink:
        self._p.start()
        if not self._ready.wait(20):
            raise RuntimeError("the sink did not start")
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def stop(self) -> None:
        if self._p.is_alive():
            os.kill(self._p.pid, signal.SIGTERM)
            self._p.join(10)
            if self._p.is_alive():
                self._p.kill()

    def received(self) -> list[tuple[float, str]]:
        """(time, key) of every request received so far (flushed within 0.1 s)."""
        if not self.log.exists():
            return []
        out = []
        for line in self.log.read_text(encoding="utf-8").splitlines():
            t, _, k = line.partition("\t")
            if k:
                out.append((float(t), k))
        return out
