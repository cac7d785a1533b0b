"""The same engine on PostgreSQL: members, idempotency and ledger claims."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest

from sopctl.events.engine import EventEngine
from sopctl.events.types import MemberJoined, MessagePosted, Purchase

PG = "postgresql://postgres@127.0.0.1:5432/test"
T0 = datetime(2026, 11, 24, 2, 0, tzinfo=UTC)
pytestmark = pytest.mark.postgres


@pytest.fixture
def pg_ledger():
    sa = pytest.importorskip("sqlalchemy")
    from sopctl.run.ledger import Ledger

    try:
        led = Ledger(PG)
        with led.engine.connect() as c:
            c.execute(sa.text("select 1"))
    except Exception as exc:
        pytest.skip(f"PostgreSQL not reachable: {exc}")
    yield led
    led.close()


def test_engine_on_postgres(pb, pg_ledger):
    name = f"pgtest-{uuid.uuid4().hex[:8]}"
    eng = EventEngine(pb, pg_ledger, name=name, now=lambda: T0)
    tag = uuid.uuid4().hex[:6]
    eng.handle(MemberJoined(f"j-{tag}", "g001", f"u-{tag}", T0, nickname="北京-美妆-小丽"))
    assert eng.handle(MemberJoined(f"j-{tag}", "g001", f"u-{tag}", T0)) == []
    (w,) = eng.tick(T0 + timedelta(minutes=3))
    assert eng.ledger_status(w.key) == "claimed"
    (r,) = eng.handle(MessagePosted(f"m-{tag}", "g001", f"u-{tag}", T0, text="多少钱"))
    assert eng.ledger_status(r.key) == "claimed"
    eng.handle(Purchase(f"p-{tag}", "g001", f"u-{tag}", T0, amount=9.9, product="trial"))
    assert eng.store.get("g001", f"u-{tag}")["stage"] == "transit"
    assert eng.store.forget(f"u-{tag}") == 1
