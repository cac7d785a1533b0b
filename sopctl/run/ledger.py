"""The delivery ledger: one row per occurrence, the single truth of what was sent.

The life of a row, and the API each step uses (the runner's burst and the event receiver
both go through it; ``burst.LedgerGate`` does steps 2 and 3 for a dispatcher):

1. :meth:`claim` — ``INSERT ... ON CONFLICT DO NOTHING`` on the unique (playbook, key), a
   chunk per commit: any number of runners, on one host or many sharing PostgreSQL, compute
   the same plan and exactly one wins each occurrence. The row is ``claimed``, with a lease.
2. :meth:`start_sending` — flips ``claimed`` to ``sending``, committed, right before the
   message's first request is written; only the keys it returns may be sent.
3. :meth:`finish` — records the final status (``sent``, ``failed``, ``uncertain``,
   ``pending-confirmation``) and reason.

A row is never deleted. One that will not be sent by its holder is handed on, not lost:

* :meth:`release` — a runner that stops hands back rows it holds and never sent: they
  become ``released``;
* an expired ``claimed`` row was never sent either (its holder died or lost the database);
* :meth:`abandoned` lists both kinds, whatever any runner's last tick says, and
  :meth:`take_over` gives each to exactly one runner (``UPDATE ... WHERE``: PostgreSQL
  re-checks the condition on the locked row), which sends it or records it ``skipped``;
* an expired ``sending`` row may or may not have reached the platform: :meth:`recover` makes
  it ``uncertain``, and it is not sent again unless asked (:meth:`reclaim_uncertain`).

Holders renew their leases (:meth:`renew`) while they work.
"""

from __future__ import annotations

import json
import os
import socket
import uuid
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa

from ..errors import UsageError
from ..i18n import _
from .schema import (  # noqa: F401 - re-exported: the ledger's public names
    FINAL,
    HANDED_BACK,
    HELD,
    SCHEMA_VERSION,
    STATUSES,
    UNCERTAIN_REASON,
    UTCDateTime,
    default_state_dir,
    deliveries,
    make_engine,
    metadata,
    normalise_url,
    schema_version,
    store_url,
    ticks,
)

_CHUNK = 400  # rows per transaction


def _hot_statements() -> tuple[Any, Any]:
    """The sender's two statements per batch, built once: for a few rows, building and
    keying a statement anew cost SQLAlchemy more than running it (ledger_bench.py)."""
    c, bp = deliveries.c, sa.bindparam
    # "status || ''": a term SQLite cannot look up in the status index. Without statistics
    # its planner takes that index over the key's for eight keys or more, and then reads
    # every claimed row of the ledger (a burst's thousands) to flip a few
    start = (deliveries.update()
             .where(c.playbook == bp("b_pb"), c.key.in_(bp("b_keys", expanding=True)),
                    c.status.concat(sa.literal_column("''")) == "claimed",
                    c.claimed_by == bp("b_me"))
             .values(status="sending", lease_until=bp("b_lease"))
             .returning(c.key))
    finish = (deliveries.update()
              .where(c.playbook == bp("b_pb"), c.key == bp("b_key"),
                     # uncertain too: a lease that lapsed while the database was away was
                     # judged uncertain by another runner; the true result is better
                     sa.or_(*(c.status == x for x in (*HELD, "uncertain"))),
                     c.claimed_by == bp("b_me"))
              .values(status=bp("b_status"), reason=bp("b_reason"),
                      attempts=c.attempts + bp("b_attempts"), response=bp("b_resp"),
                      finished_at=bp("b_now"), lease_until=None))
    return start, finish


_START_SENDING, _FINISH = _hot_statements()


@dataclass(frozen=True, slots=True)
class Claim:
    """What a runner records when it claims one occurrence."""

    key: str
    group_id: str
    slot: str
    seq: int
    scheduled_utc: datetime
    content_hash: str = ""
    channel: str = ""


@dataclass(slots=True)
class Outcome:
    key: str
    status: str
    reason: str = ""
    response: dict[str, Any] | None = None
    attempts: int = 1


def host_key() -> str:
    """This host as far as process ids go: the hostname and, where there is one, the pid
    namespace, since containers that share a hostname each number their own processes."""
    host = socket.gethostname()
    try:
        ns = os.readlink("/proc/self/ns/pid")  # "pid:[4026531836]"
    except OSError:
        return host
    return f"{host}/{ns[5:-1]}" if ns.startswith("pid:[") else host


def make_runner_id() -> str:
    """host:pid:random, so a restarted process can tell its own dead claims apart."""
    return f"{host_key()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OSError):
        return True
    return True


class Ledger:
    """The ledger on one database (SQLite file or PostgreSQL)."""

    def __init__(self, url: str, *, runner_id: str | None = None, create: bool = True,
                 tick_id: str | None = None):
        self.url = normalise_url(url)
        self.runner_id = runner_id or make_runner_id()
        # sharded runners keep the last tick per shard ("shard 2/3"), so a shard that was
        # down catches up its own groups even though other shards ticked meanwhile
        self.tick_id = tick_id
        self.engine = make_engine(self.url)
        self.dialect = self.engine.dialect.name
        if create:
            self.apply_schema()

    # ------------------------------------------------------------------ schema
    def apply_schema(self) -> None:
        """Create tables and the version row; safe when several runners start at once."""
        try:
            with self.engine.begin() as conn:
                self.schema_lock(conn)
                metadata.create_all(conn, checkfirst=True)
                have = conn.execute(sa.select(sa.func.max(schema_version.c.version))).scalar()
                if have is None:
                    conn.execute(schema_version.insert().values(
                        version=SCHEMA_VERSION, applied_at=datetime.now(UTC)))
                elif have > SCHEMA_VERSION:
                    raise UsageError(_("the ledger has schema version {have}, newer than this "
                                       "sopctl ({ours})").format(have=have, ours=SCHEMA_VERSION),
                                     hint=_("upgrade sopctl"))
        except sa.exc.OperationalError as exc:
            from ..i18n.thirdparty import db_reason

            raise UsageError(_("cannot open the ledger at {url}: {why}").format(
                url=self._safe_url(), why=db_reason(exc))) from None

    def schema_lock(self, conn: Any) -> None:
        """Serialise schema creation among processes starting at once: without it two
        runners on a new ledger both see no table and the second CREATE fails."""
        if self.dialect == "postgresql":
            conn.execute(sa.text("SELECT pg_advisory_xact_lock(727001)"))  # released at commit
        elif self.dialect == "sqlite":
            # pysqlite runs DDL outside a transaction; take the write lock up front
            conn.exec_driver_sql("BEGIN IMMEDIATE")

    def _safe_url(self) -> str:
        return self.engine.url.render_as_string(hide_password=True)

    def _insert(self) -> Any:
        if self.dialect == "postgresql":
            from sqlalchemy.dialects.postgresql import insert
        else:
            from sqlalchemy.dialects.sqlite import insert
        return insert(deliveries)

    def _insert_ticks(self) -> Any:
        if self.dialect == "postgresql":
            from sqlalchemy.dialects.postgresql import insert
        else:
            from sqlalchemy.dialects.sqlite import insert
        return insert(ticks)

    # ------------------------------------------------------------------ claims
    def _claim_stmt(self) -> Any:
        """One compiled statement, run executemany (SQLAlchemy batches it as multi-row
        INSERT ... RETURNING): ten times faster than building a VALUES list per chunk."""
        stmt = getattr(self, "_claim_cached", None)
        if stmt is None:
            stmt = self._claim_cached = (
                self._insert().on_conflict_do_nothing(index_elements=["playbook", "key"])
                .returning(deliveries.c.key))
        return stmt

    def claim(self, playbook: str, claims: Sequence[Claim], *, now: datetime,
              lease_s: float = 600, skip_known: bool = False) -> list[str]:
        """Claim occurrences; returns the keys this runner won (committed on return).

        ``skip_known`` first looks up which keys already have a row (one indexed SELECT)
        and inserts only the others: runners sharing a ledger lose races cheaply."""
        won: list[str] = []
        lease = now + timedelta(seconds=lease_s)
        if skip_known and claims:
            known = self.statuses(playbook, [c.key for c in claims])
            claims = [c for c in claims if c.key not in known]
        for i in range(0, len(claims), _CHUNK):
            rows = [self._row(playbook, c, "claimed", now, lease) for c in claims[i:i + _CHUNK]]
            with self.engine.begin() as conn:
                won.extend(conn.execute(self._claim_stmt(), rows).scalars())
        return won

    def claim_in(self, conn: Any, playbook: str, claims: Sequence[Claim], *, now: datetime,
                 lease_s: float = 600) -> list[str]:
        """:meth:`claim` inside the caller's open transaction ``conn``, for a writer whose
        claims must commit with its own records (the event receiver: an event's id, its
        member and its reactions commit together). Returns the keys won."""
        if not claims:
            return []
        lease = now + timedelta(seconds=lease_s)
        rows = [self._row(playbook, c, "claimed", now, lease) for c in claims]
        return list(conn.execute(self._claim_stmt(), rows).scalars())

    def record(self, playbook: str, claims: Sequence[Claim], status: str, reason: str, *,
               now: datetime) -> int:
        """Record final rows directly (e.g. ``skipped``) unless someone already has them."""
        n = 0
        for i in range(0, len(claims), _CHUNK):
            rows = [{**self._row(playbook, c, status, now, None), "reason": reason,
                     "finished_at": now, "attempts": 0} for c in claims[i:i + _CHUNK]]
            with self.engine.begin() as conn:
                n += len(conn.execute(self._claim_stmt(), rows).scalars().all())
        return n

    def _row(self, playbook: str, c: Claim, status: str, now: datetime,
             lease: datetime | None) -> dict[str, Any]:
        return {"playbook": playbook, "key": c.key, "group_id": c.group_id, "slot": c.slot,
                "seq": c.seq, "scheduled_utc": c.scheduled_utc, "content_hash": c.content_hash,
                "channel": c.channel, "status": status, "attempts": 0, "reason": "",
                "claimed_by": self.runner_id, "claimed_at": now,
                "lease_until": lease}

    def finish(self, playbook: str, outcomes: Iterable[Outcome], *, now: datetime,
               also: Callable[[Any, list[str]], None] | None = None) -> int:
        """Record results of claimed rows (only rows this runner still holds). ``also(conn,
        keys)`` runs in the same transaction (the event side drops those keys' outbox
        entries: one commit where there were two)."""
        params = [{"b_pb": playbook, "b_key": o.key, "b_status": o.status,
                   "b_reason": o.reason[:2000], "b_attempts": o.attempts,
                   "b_resp": json.dumps(o.response, ensure_ascii=False, default=str)
                   if o.response else None, "b_now": now, "b_me": self.runner_id}
                  for o in outcomes]
        if not params:
            return 0
        with self.engine.begin() as conn:
            n = conn.execute(_FINISH, params).rowcount
            if also is not None:
                also(conn, [p["b_key"] for p in params])
            return n

    def start_sending(self, playbook: str, keys: Sequence[str], *, now: datetime,
                      lease_s: float = 60) -> list[str]:
        """Flip this runner's ``claimed`` rows to ``sending`` (committed on return); only the
        keys returned may be sent: a row taken over meanwhile is not ours any more."""
        out: list[str] = []
        lease = now + timedelta(seconds=lease_s)
        for i in range(0, len(keys), _CHUNK):
            with self.engine.begin() as conn:
                out.extend(conn.execute(_START_SENDING, {
                    "b_pb": playbook, "b_keys": list(keys[i:i + _CHUNK]),
                    "b_me": self.runner_id, "b_lease": lease}).scalars())
        return out

    def release(self, playbook: str, keys: Sequence[str], *, now: datetime) -> int:
        """Hand back rows this runner holds and knows it never sent (it is stopping, or a
        flip's commit went unconfirmed): they become ``released``, which any runner's next
        tick takes over (:meth:`abandoned`). Committed on return; returns the rows handed
        back."""
        c = deliveries.c
        n = 0
        for i in range(0, len(keys), _CHUNK):
            with self.engine.begin() as conn:
                n += conn.execute(deliveries.update().where(
                    c.playbook == playbook, c.key.in_(keys[i:i + _CHUNK]),
                    c.status.in_(HELD), c.claimed_by == self.runner_id).values(
                    status="released", lease_until=now, reason=HANDED_BACK)).rowcount
        return n

    def renew(self, *, now: datetime, lease_s: float = 60) -> int:
        """Extend the lease of every row this runner holds (a heartbeat)."""
        c = deliveries.c
        with self.engine.begin() as conn:
            return conn.execute(deliveries.update().where(
                c.claimed_by == self.runner_id, c.status.in_(HELD)).values(
                lease_until=now + timedelta(seconds=lease_s))).rowcount

    def _dead_holders(self, conn: Any, status: str) -> list[str]:
        """Holders of ``status`` rows that are processes of this host (and pid namespace)
        which no longer exist; any other holder is judged by its lease alone."""
        c = deliveries.c
        host = self.runner_id.split(":", 1)[0]
        out = []
        for (by,) in conn.execute(sa.select(c.claimed_by).where(c.status == status)
                                  .distinct()).all():
            parts = (by or "").split(":")
            if (len(parts) == 3 and parts[0] == host and parts[1].isdigit()
                    and by != self.runner_id and not _pid_alive(int(parts[1]))):
                out.append(by)
        return out

    def _gone(self, conn: Any, now: datetime) -> Any:
        """The rows nobody is going to send unless taken over: ``released``, or ``claimed``
        by another runner whose lease ran out or who is a dead process of this host."""
        c = deliveries.c
        dead = self._dead_holders(conn, "claimed")
        gone = c.lease_until < now
        if dead:
            gone = sa.or_(gone, c.claimed_by.in_(dead))
        return sa.or_(c.status == "released",
                      sa.and_(c.status == "claimed", c.claimed_by != self.runner_id, gone))

    def abandoned(self, playbook: str, *, now: datetime) -> list[dict[str, Any]]:
        """Rows of ``playbook`` that were claimed and never sent and that nobody holds any
        more (``released``, or ``claimed`` with the holder gone), however old: ``key``,
        ``group_id``, ``scheduled_utc``, ``status``. Take them with :meth:`take_over`."""
        c = deliveries.c
        with self.engine.connect() as conn:
            q = sa.select(c.key, c.group_id, c.scheduled_utc, c.status).where(
                c.playbook == playbook, self._gone(conn, now))
            return [dict(r) for r in conn.execute(q).mappings()]

    def take_over(self, playbook: str, keys: Sequence[str], *, now: datetime,
                  lease_s: float = 60) -> list[str]:
        """Take the rows among ``keys`` that nobody holds (see :meth:`abandoned`). One UPDATE
        per chunk, so of several runners trying at once exactly one wins each row
        (PostgreSQL re-checks the WHERE clause on the locked row). Returns the keys won,
        now ``claimed`` by this runner (never sent: flip and send them, or finish them)."""
        if not keys:
            return []
        c = deliveries.c
        won: list[str] = []
        with self.engine.connect() as conn:
            gone = self._gone(conn, now)
        for i in range(0, len(keys), _CHUNK):
            with self.engine.begin() as conn:
                won.extend(conn.execute(deliveries.update().where(
                    c.playbook == playbook, c.key.in_(keys[i:i + _CHUNK]), gone).values(
                    status="claimed", claimed_by=self.runner_id, claimed_at=now,
                    lease_until=now + timedelta(seconds=lease_s)).returning(c.key)).scalars())
        return won

    def recover(self, *, now: datetime, stale_s: float = 3600) -> int:
        """Turn claims nobody is finishing into ``uncertain``.

        A ``sending`` row is abandoned when its lease ran out, or when its holder is a
        process of this host that no longer exists (a crash between claim and result). A
        ``claimed`` row is left to :meth:`take_over` (it was never sent), unless nobody took
        it over for ``stale_s`` after its lease ran out (a row of a playbook no runner
        holds any more): those become ``uncertain`` too, since other writers of the ledger
        may have sent without flipping to ``sending``.
        """
        c = deliveries.c
        with self.engine.begin() as conn:
            dead = self._dead_holders(conn, "sending")
            gone = sa.and_(c.status == "sending", c.claimed_by != self.runner_id,
                           c.lease_until < now)
            if dead:
                gone = sa.or_(gone, sa.and_(c.status == "sending", c.claimed_by.in_(dead)))
            stale = sa.and_(c.status == "claimed",
                            c.lease_until < now - timedelta(seconds=stale_s))
            return conn.execute(deliveries.update().where(sa.or_(gone, stale)).values(
                status="uncertain", finished_at=now, lease_until=None,
                attempts=c.attempts + 1,  # it may have gone out once
                reason=UNCERTAIN_REASON)).rowcount

    def next_expiry(self, playbooks: Sequence[str] | None = None) -> datetime | None:
        """When the earliest lease held by another runner runs out, or since when a row has
        been ``released``: work to take over (of ``playbooks`` when given)."""
        c = deliveries.c
        q = sa.select(sa.func.min(c.lease_until)).where(sa.or_(
            c.status == "released", sa.and_(c.status.in_(HELD), c.claimed_by != self.runner_id)))
        if playbooks is not None:
            q = q.where(c.playbook.in_(list(playbooks)))
        with self.engine.connect() as conn:
            return conn.execute(q).scalar()

    def reclaim_uncertain(self, playbook: str, keys: Sequence[str], *, now: datetime,
                          lease_s: float = 600) -> list[str]:
        """Take uncertain rows back for a resend (--resend-uncertain); returns keys won."""
        won = []
        c = deliveries.c
        with self.engine.begin() as conn:
            for k in keys:
                r = conn.execute(deliveries.update().where(
                    c.playbook == playbook, c.key == k, c.status == "uncertain").values(
                    status="claimed", claimed_by=self.runner_id, claimed_at=now,
                    lease_until=now + timedelta(seconds=lease_s), finished_at=None))
                if r.rowcount:
                    won.append(k)
        return won

    # ------------------------------------------------------------------ reads
    def statuses(self, playbook: str, keys: Sequence[str]) -> dict[str, str]:
        c = deliveries.c
        out: dict[str, str] = {}
        with self.engine.connect() as conn:
            for i in range(0, len(keys), _CHUNK):
                out.update(conn.execute(sa.select(c.key, c.status).where(
                    c.playbook == playbook, c.key.in_(keys[i:i + _CHUNK]))).all())
        return out

    def last_tick(self, playbook: str) -> datetime | None:
        c = ticks.c
        q = sa.select(sa.func.max(c.last_tick)).where(c.playbook == playbook)
        q = q.where(c.runner_id == self.tick_id if self.tick_id
                    else sa.not_(c.runner_id.startswith("shard ")))
        with self.engine.connect() as conn:
            return conn.execute(q).scalar()

    def set_tick(self, playbook: str, t: datetime) -> None:
        c = ticks.c
        rid = self.tick_id or self.runner_id
        with self.engine.begin() as conn:
            # never backwards: a slower process finishing an older tick must not rewind it
            at = sa.literal(t, UTCDateTime)
            new = (sa.func.greatest(c.last_tick, at) if self.dialect == "postgresql"
                   else sa.func.max(c.last_tick, at))  # SQLite's two-argument max()
            n = conn.execute(ticks.update().where(c.playbook == playbook, c.runner_id == rid)
                             .values(last_tick=new)).rowcount
            if not n:
                conn.execute(self._insert_ticks().values(playbook=playbook, runner_id=rid,
                                                         last_tick=t)
                             .on_conflict_do_nothing())

    def rows(self, *, since: datetime | None = None, until: datetime | None = None,
             group: str | None = None, statuses: Sequence[str] | None = None,
             playbook: str | None = None, limit: int | None = None,
             newest_first: bool = False) -> list[dict[str, Any]]:
        c = deliveries.c
        q = sa.select(deliveries)
        if since is not None:
            q = q.where(c.scheduled_utc >= since)
        if until is not None:
            q = q.where(c.scheduled_utc <= until)
        if group:
            q = q.where(c.group_id == group)
        if statuses:
            q = q.where(c.status.in_(list(statuses)))
        if playbook:
            q = q.where(c.playbook == playbook)
        order = (c.scheduled_utc.desc(), c.id.desc()) if newest_first else (c.scheduled_utc,
                                                                             c.id)
        q = q.order_by(*order)
        if limit:
            q = q.limit(limit)
        with self.engine.connect() as conn:
            out = []
            for r in conn.execute(q).mappings():
                d = dict(r)
                d["response"] = json.loads(d["response"]) if d["response"] else None
                out.append(d)
            return out

    def counts(self, *, since: datetime | None = None,
               playbook: str | None = None) -> dict[str, int]:
        c = deliveries.c
        q = sa.select(c.status, sa.func.count()).group_by(c.status)
        if since is not None:
            q = q.where(c.scheduled_utc >= since)
        if playbook:
            q = q.where(c.playbook == playbook)
        with self.engine.connect() as conn:
            return dict(conn.execute(q).all())

    def close(self) -> None:
        self.engine.dispose()
