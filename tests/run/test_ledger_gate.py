"""The ledger's side of a dispatcher: flips and results in shared transactions."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import pytest

from sopctl.run.burst import LedgerGate
from sopctl.run.channels.base import OutMessage, SendResult
from sopctl.run.delivery import Job
from sopctl.run.ledger import Claim, Ledger

NOW = datetime(2026, 12, 3, 7, 30, tzinfo=UTC)


class CountingLedger(Ledger):
    """A real ledger that counts its flip and result transactions."""

    def __init__(self, url: str) -> None:
        super().__init__(url)
        self.flips: list[int] = []
        self.finishes: list[int] = []

    def start_sending(self, playbook, keys, **kw):
        self.flips.append(len(keys))
        return super().start_sending(playbook, keys, **kw)

    def finish(self, playbook, outcomes, **kw):
        outcomes = list(outcomes)
        self.finishes.append(len(outcomes))
        return super().finish(playbook, outcomes, **kw)


def _job(key: str) -> Job:
    return Job("out", OutMessage(key, "g", "群", None, "你好"))


async def _trickle(gate: LedgerGate, keys: list[str]) -> None:
    """One message every 2 ms, each begun then ended, as reactions reach a sender."""
    async def one(i: int, key: str) -> None:
        await asyncio.sleep(0.002 * i)
        assert await gate.begin(_job(key))
        await gate.end(_job(key), SendResult("sent"))

    await asyncio.gather(*(one(i, k) for i, k in enumerate(keys)))


@pytest.mark.parametrize("linger", [0.0, 0.2])
def test_lingering_gathers_a_trickle_into_one_flip_and_one_result(store_url, linger):
    led = CountingLedger(store_url)
    keys = led.claim("pb", [Claim(f"k{i}", "g", "s", 0, NOW, "h", "out") for i in range(6)],
                     now=NOW)

    async def main() -> None:
        async with LedgerGate(led, "pb", now=lambda: NOW, lease_s=60, linger=linger) as gate:
            await _trickle(gate, keys)

    asyncio.run(main())
    assert sum(led.flips) == 6 and sum(led.finishes) == 6
    assert led.counts() == {"sent": 6}
    if linger:  # the six arrived within 10 ms, well inside the linger
        assert led.flips == [6] and led.finishes == [6]
    else:  # each went as it came, or nearly
        assert len(led.flips) > 1 and len(led.finishes) > 1
    led.close()
