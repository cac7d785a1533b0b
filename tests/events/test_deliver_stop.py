"""A stop of the delivery thread while reactions wait for a rate-limit window: what went
out is `sent`, what never began is handed back (`released`), nothing is left `sending` or
`uncertain`; the next deliverer on the ledger sends the rest, each once."""

from __future__ import annotations

import time
from collections import Counter
from pathlib import Path

import httpx
import pytest

from sopctl.events.server import ServeConfig
from tests.events.conftest import serving
from tests.events.test_outbound import CHAT, TG_SECRET, _statuses, _wait, telegram_bot

JOINS = 4


def _join(i: int) -> dict:
    return {"update_id": 50 + i, "message": {
        "message_id": 120 + i, "date": int(time.time()), "chat": {"id": int(CHAT)},
        "new_chat_members": [{"id": 700 + i, "first_name": f"n{i}"}]}}


def test_a_stop_hands_back_reactions_waiting_for_a_rate_window(tmp_path, monkeypatch, store):
    from sopctl.commands.serve import open_deliverer

    h = {"X-Telegram-Bot-Api-Secret-Token": TG_SECRET}
    # the fake takes one message a second per chat
    with telegram_bot(tmp_path, monkeypatch, store) as (fake, engine, ledger, deliverer):
        with serving(engine, ServeConfig(telegram_secret=TG_SECRET)) as (_s, base), \
                httpx.Client(base_url=base) as c:
            for i in range(JOINS):
                assert c.post("/telegram", json=_join(i), headers=h).status_code == 200
            _wait(lambda: len(fake.accepted) >= 1)
            t0 = time.monotonic()
            deliverer.stop(grace=0)  # the others wait for their windows: handed back
            stopped_in = time.monotonic() - t0
        sent_before = len(fake.accepted)
        st = Counter(s for s, _r in _statuses(ledger, engine.name).values())
        assert sum(st.values()) == JOINS
        assert st["sent"] == sent_before < JOINS  # the ledger says what the server saw
        assert st["released"] == JOINS - sent_before
        assert not st["sending"] and not st["uncertain"] and not st["claimed"]
        assert stopped_in < 5  # not waiting out the windows of the rest

        again = open_deliverer(engine, ledger, tmp_path)  # takes what was handed back
        try:
            _wait(lambda: Counter(s for s, _r in _statuses(ledger, engine.name).values())
                  ["sent"] == JOINS, timeout=20)
        finally:
            again.stop()
    texts = [a.payload["text"] for a in fake.accepted]
    assert len(texts) == JOINS and len(set(texts)) == JOINS  # each welcome once


def test_closing_the_sender_writes_the_lease_that_just_ended(tmp_path):
    """A lease released right before the sender closes is written to the host's store
    then, not by a timer of a loop that is gone: otherwise the next sender on the host
    (a restarted serve, another process) waits for its token as if still in flight."""
    import asyncio

    from sopctl.events.outbound import ChannelSender
    from sopctl.playbook.loader import load_playbook
    from sopctl.run.hostlimit import host_context, host_limiter
    from sopctl.run.ratelimit import Limit

    pb = load_playbook(str(Path(__file__).parent / "events_playbook.yaml")).playbook
    limits = [Limit("chat-1", 1, 0.05)]

    async def send_then_close() -> None:
        sender = ChannelSender(pb, {}, ctx=host_context(tmp_path))
        (await sender.ctx.limiter.acquire(limits)).release()
        await sender.aclose()

    asyncio.run(send_then_close())  # the loop closes within the limiter's flush delay

    async def next_sender() -> None:
        (await asyncio.wait_for(host_limiter(tmp_path).acquire(limits), 2)).release()

    try:
        asyncio.run(next_sender())
    except TimeoutError:
        pytest.fail("the ended lease was never written: its token looks in flight")
