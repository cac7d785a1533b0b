"""The ledger's tables and where they live: SQLAlchemy Core definitions shared by the
delivery ledger and the member store, and the URL of the default SQLite file."""

from __future__ import annotations

import os
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from ..errors import UsageError
from ..i18n import _
from .reasons import HANDED_BACK as HANDED
from .reasons import UNCERTAIN
from .sqlitewal import set_wal

SCHEMA_VERSION = 1
FINAL = ("sent", "failed", "skipped", "uncertain", "pending-confirmation")
# "released": handed back, never sent, by a runner that stopped; the next tick of any runner
# takes it over
STATUSES = ("claimed", "released", "sending", *FINAL)
HELD = ("claimed", "sending")
UNCERTAIN_REASON = UNCERTAIN  # the ledger's own reasons, stored in English
HANDED_BACK = HANDED


class UTCDateTime(sa.types.TypeDecorator):
    """Aware UTC in and out, whatever the backend keeps (SQLite has no time zones)."""

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        value = value.astimezone(UTC) if value.tzinfo else value.replace(tzinfo=UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


metadata = sa.MetaData()
deliveries = sa.Table(
    "sopctl_deliveries", metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("playbook", sa.String(200), nullable=False),
    sa.Column("key", sa.String(400), nullable=False),
    sa.Column("group_id", sa.String(200), nullable=False),
    sa.Column("slot", sa.String(200), nullable=False),
    sa.Column("seq", sa.Integer, nullable=False, default=0),
    sa.Column("scheduled_utc", UTCDateTime, nullable=False),
    sa.Column("content_hash", sa.String(64), nullable=False, default=""),
    sa.Column("channel", sa.String(200), nullable=False, default=""),
    sa.Column("status", sa.String(32), nullable=False),
    sa.Column("attempts", sa.Integer, nullable=False, default=0),
    sa.Column("reason", sa.Text, nullable=False, default=""),
    sa.Column("response", sa.Text, nullable=True),  # JSON text: portable across backends
    sa.Column("claimed_by", sa.String(200), nullable=True),
    sa.Column("claimed_at", UTCDateTime, nullable=True),
    sa.Column("lease_until", UTCDateTime, nullable=True),
    sa.Column("finished_at", UTCDateTime, nullable=True),
    sa.UniqueConstraint("playbook", "key", name="sopctl_deliveries_claim_key"),
    sa.Index("sopctl_deliveries_sched", "scheduled_utc"),
    sa.Index("sopctl_deliveries_status", "status"),
)
ticks = sa.Table(
    "sopctl_ticks", metadata,
    sa.Column("playbook", sa.String(200), primary_key=True),
    sa.Column("runner_id", sa.String(200), primary_key=True),
    sa.Column("last_tick", UTCDateTime, nullable=False),
)
schema_version = sa.Table(
    "sopctl_schema_version", metadata,
    sa.Column("version", sa.Integer, primary_key=True),
    sa.Column("applied_at", UTCDateTime, nullable=False),
)


def normalise_url(url: str) -> str:
    """postgres:// and postgresql:// mean psycopg 3; anything else is passed through."""
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix):]
    return url


def default_state_dir() -> Path:
    return Path(os.environ.get("SOPCTL_STATE_DIR") or ".sopctl")


def store_url(store: str | None, state_dir: Path | str | None) -> str:
    if store:
        return normalise_url(store)
    d = Path(state_dir) if state_dir else default_state_dir()
    try:
        d.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        from ..i18n.thirdparty import os_reason

        raise UsageError(_("cannot create state directory {path}: {why}").format(
            path=d, why=os_reason(exc))) from None
    return f"sqlite:///{(d / 'ledger.db').resolve()}"


def make_engine(url: str) -> sa.Engine:
    """The engine of a ledger URL; a SQLite file in WAL mode, waiting up to 30 s for a lock."""
    try:
        if url.startswith("sqlite"):
            eng = sa.create_engine(url, connect_args={"timeout": 30, "check_same_thread": False})

            @sa.event.listens_for(eng, "connect")
            def _pragmas(dbapi_conn: Any, _rec: Any) -> None:
                cur = dbapi_conn.cursor()
                cur.execute("PRAGMA busy_timeout=30000")
                set_wal(cur)
                cur.execute("PRAGMA synchronous=NORMAL")
                cur.close()

            return eng
        return sa.create_engine(url, pool_pre_ping=True)
    except (sa.exc.ArgumentError, sa.exc.NoSuchModuleError, ImportError) as exc:
        raise UsageError(_("cannot use store {url}: {why}").format(url=repr(url), why=exc),
                         hint=_("e.g. --store postgresql://user@host/db")) from None
