"""The group commit's SQL text stores datetimes exactly as the Core columns do."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import sqlalchemy as sa

from sopctl.events.rawsql import sqlite_datetime
from sopctl.events.store import members

TIMES = [datetime(2026, 12, 3, 6, 13, 40, 123456, tzinfo=UTC),
         datetime(2026, 12, 3, 6, 13, 40, tzinfo=UTC),  # no microseconds
         datetime(2026, 1, 1, 0, 0, 0, 5, tzinfo=timezone(timedelta(hours=8))),
         datetime(999, 5, 6, 7, 8, 9, 10),  # naive: taken as UTC
         datetime(2026, 6, 30, 23, 59, 59, 999999, tzinfo=timezone(timedelta(hours=-5))),
         datetime(2026, 3, 8, 2, 30, 0, 7, tzinfo=ZoneInfo("Asia/Shanghai")),
         datetime(2026, 3, 8, 2, 30, tzinfo=ZoneInfo("UTC"))]  # UTC, not the same object


def test_sqlite_datetime_is_the_column_processor() -> None:
    dialect = sa.create_engine("sqlite://").dialect
    core = members.c.joined_at.type.dialect_impl(dialect).bind_processor(dialect)
    for t in TIMES:
        assert sqlite_datetime(t) == core(t), t
