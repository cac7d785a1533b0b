"""A stop of the delivery thread while reactions wait for a rate-limit window: what went
out is `sent`, what never began is handed back (`released`), nothing is left `sending` or
`uncertain`; the next deliverer on the ledger sends the rest, each once."""

from __future__ import annotations

import time
from collections import Counter

import httpx

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
