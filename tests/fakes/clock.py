"""A virtual clock shared by the client side (sopctl's delivery) and the fakes: sleeping
moves time forward at once, so a 10-minute DingTalk lockout takes no real time."""

from __future__ import annotations

import asyncio
import threading


class VirtualClock:
    def __init__(self, start: float = 1_795_000_000.0) -> None:
        self._t = start
        self._lock = threading.Lock()
        self.sleeps: list[float] = []

    def time(self) -> float:
        return self._t

    def monotonic(self) -> float:
        return self._t

    def advance(self, seconds: float) -> None:
        with self._lock:
            self._t += seconds

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        if seconds > 0:
            self.advance(seconds)
        await asyncio.sleep(0)
