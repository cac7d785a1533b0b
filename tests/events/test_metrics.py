"""Every metric each process exports, read from its own /metrics over HTTP."""

from __future__ import annotations

import asyncio
import time
import urllib.request

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from sopctl.events.engine import EventEngine
from sopctl.events.server import ServeConfig
from sopctl.run.ledger import Ledger
from sopctl.run.metrics import Metrics, ServeMetrics, serve_metrics
from sopctl.run.ratelimit import Limit, RateLimiter
from tests.events.conftest import serving, unique
from tests.events.test_outbound import CHAT, TELEGRAM_PB, TG_SECRET, TOKEN, _load, _wait
from tests.fakes import TelegramFake


def samples(text: str) -> dict[tuple[str, tuple], float]:
    out = {}
    for fam in text_string_to_metric_families(text):
        for s in fam.samples:
            out[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return out


def families(text: str) -> set[str]:
    return {f.name for f in text_string_to_metric_families(text)}


def _join(uid: int, user: int) -> dict:
    return {"update_id": uid, "message": {
        "message_id": uid, "date": int(time.time()), "chat": {"id": int(CHAT)},
        "new_chat_members": [{"id": user, "first_name": f"m{user}"}]}}


def test_serve_metrics_on_its_own_route(tmp_path, monkeypatch, store):
    from sopctl.commands.serve import open_deliverer

    fake = TelegramFake(token=TOKEN, chats={CHAT}).start()
    monkeypatch.setenv("TG_TOKEN", TOKEN)
    _p, pb = _load(tmp_path, TELEGRAM_PB.format(base=fake.url, chat=CHAT))
    ledger = Ledger(store)
    engine = EventEngine(pb, ledger, name=unique(pb.name))
    metrics = ServeMetrics()
    deliverer = open_deliverer(engine, ledger, tmp_path, metrics=metrics)
    engine.listeners.append(deliverer)
    h = {"X-Telegram-Bot-Api-Secret-Token": TG_SECRET}
    try:
        with serving(engine, ServeConfig(telegram_secret=TG_SECRET),
                     metrics=metrics) as (_s, base), httpx.Client(base_url=base) as c:
            # two welcomes to one chat: Telegram's 1/s per chat makes the second wait
            assert c.post("/telegram", json=_join(1, 501), headers=h).status_code == 200
            assert c.post("/telegram", json=_join(2, 502), headers=h).status_code == 200
            assert c.post("/telegram", json=_join(3, 503)).status_code == 401
            _wait(lambda: deliverer.idle.is_set() and len(fake.accepted) == 2)
            text = c.get("/metrics").text
    finally:
        deliverer.stop()
        ledger.close()
        fake.stop()
    got = samples(text)
    tg = (("route", "/telegram"),)
    assert got[("sopctl_http_requests_total", (*tg, ("status", "200")))] == 2
    assert got[("sopctl_http_requests_total", (*tg, ("status", "401")))] == 1
    assert got[("sopctl_http_request_duration_seconds_count", tg)] == 3
    assert got[("sopctl_events_total", (("source", "telegram"),))] == 2
    assert got[("sopctl_event_ingest_seconds_count", ())] == 2
    assert got[("sopctl_events_refused_total", (*tg, ("status", "401")))] == 1
    assert got[("sopctl_claim_latency_seconds_count", ())] >= 1
    assert got[("sopctl_sends_total", (("channel", "tg"), ("status", "sent")))] == 2
    assert got[("sopctl_queue_depth", ())] == 0
    assert got[("sopctl_rate_limit_wait_seconds_total", ())] >= 0.5
    assert families(text) == {
        "sopctl_http_requests", "sopctl_http_request_duration_seconds", "sopctl_events",
        "sopctl_event_ingest_seconds", "sopctl_events_refused", "sopctl_claim_latency_seconds",
        "sopctl_sends", "sopctl_queue_depth", "sopctl_rate_limit_wait_seconds"}


def test_runner_metrics_endpoint_counts_rate_limit_waits():
    m = Metrics()
    limiter = RateLimiter()
    m.watch(limiter)

    async def two_through_one_slot() -> None:
        lim = [Limit("robot", 1, 0.4)]
        (await limiter.acquire(lim)).release()
        (await limiter.acquire(lim)).release()  # waits for the first token to come back

    asyncio.run(two_through_one_slot())
    m.sent("sent", "out", 3)
    m.claim_latency(0.02)
    m.queue_depth += 2
    m.ticks += 1
    m.reloads["ok"] += 1
    server = serve_metrics(m, 0)
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}/metrics"
        with urllib.request.urlopen(url, timeout=5) as r:
            text = r.read().decode()
    finally:
        server.shutdown()
    got = samples(text)
    assert 0.3 <= got[("sopctl_rate_limit_wait_seconds_total", ())] < 5
    assert got[("sopctl_sends_total", (("channel", "out"), ("status", "sent")))] == 3
    assert got[("sopctl_claim_latency_seconds_count", ())] == 1
    assert got[("sopctl_queue_depth", ())] == 2
    assert got[("sopctl_ticks_total", ())] == 1
    assert got[("sopctl_reloads_total", (("result", "ok"),))] == 1
    assert families(text) == {"sopctl_rate_limit_wait_seconds", "sopctl_sends",
                              "sopctl_claim_latency_seconds", "sopctl_queue_depth",
                              "sopctl_ticks", "sopctl_reloads"}


def test_request_series_of_unknown_paths_count_as_other_and_stay_bounded():
    """Paths are chosen by clients: every unknown one counts under "other", and the
    labelled series kept at hand do not grow with them."""
    m = ServeMetrics()
    for i in range(1500):
        m.request(f"/probe/{i}", 404, 0.001)
    m.request("/events", 200, 0.002)
    m.request("/events", 200, 0.004)
    got = samples(m.render())
    other = (("route", "other"),)
    assert got[("sopctl_http_requests_total", (*other, ("status", "404")))] == 1500
    assert got[("sopctl_http_request_duration_seconds_count", other)] == 1500
    ev = (("route", "/events"),)
    assert got[("sopctl_http_requests_total", (*ev, ("status", "200")))] == 2
    assert got[("sopctl_http_request_duration_seconds_sum", ev)] == pytest.approx(0.006)
    assert len(m._per_request) == 2
