"""The group commit's hot statements as SQL text, run straight on the driver.

A Core statement spends more Python per row on parameter processing than SQLite spends
running it (construct_params, a type processor per value, the compiled-cache lookup).
For the few statements every batch runs, the SQL is written once per dialect here and the
rows go to the driver's cursor as tuples, in the connection's transaction; datetimes are
converted with the columns' own processors, so what is stored is exactly what the Core
statements store and read back.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator, Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.engine import Connection

from .store import activity, blacklist, members, outbox, processed, welcome_queue

CHUNK = 400  # rows per multi-row statement (far below SQLite's 32766 parameters)
MEMBER_COLS = tuple(c.name for c in members.columns)


def _identity(v: Any) -> Any:
    return v


def _run(conn: Connection, sql: str, params: Any) -> Any:
    """``sql`` on the driver's own cursor, in ``conn``'s transaction (a list of tuples:
    executemany), without SQLAlchemy's per-statement work (execution context, result
    metadata), a large share of a small group commit's time in profiles."""
    cur = conn.connection.driver_connection.cursor()  # type: ignore[union-attr]
    if isinstance(params, list):
        cur.executemany(sql, params)
    else:
        cur.execute(sql, params)
    return cur


@contextlib.contextmanager
def pipelined(conn: Connection) -> Iterator[None]:
    """Statements sent without waiting for each answer: on PostgreSQL (psycopg's pipeline
    mode) one round trip for all of them instead of one each; reading a result in the
    block waits for everything sent before it, and an error surfaces there or at the end
    of the block. SQLite runs in-process: as is."""
    driver = conn.connection.driver_connection  # type: ignore[union-attr]
    pipeline = getattr(driver, "pipeline", None)
    if pipeline is None:
        yield
        return
    with pipeline():
        yield


def sqlite_datetime(v: datetime) -> str:
    """What the columns' own processor stores on SQLite (naive UTC, always six digits of
    microseconds), in one C call instead of a format over a dict."""
    if v.tzinfo is None:
        s = v.isoformat(" ")
    else:  # the "+00:00" cut off: a third cheaper than dropping the zone first
        s = (v if v.tzinfo is UTC else v.astimezone(UTC)).isoformat(" ")[:-6]
    return s if v.microsecond else s + ".000000"


class RawStatements:
    """SQL text and value converters for one dialect (SQLite or PostgreSQL)."""

    def __init__(self, dialect: Any) -> None:
        self.ph = "?" if dialect.paramstyle == "qmark" else "%s"
        q = dialect.identifier_preparer.quote
        self.q = q
        dt = members.c.joined_at.type.dialect_impl(dialect)
        self.to_db: Callable[[Any], Any] = (sqlite_datetime if dialect.name == "sqlite"
                                            else dt.bind_processor(dialect) or _identity)
        self.from_db: Callable[[Any], Any] = dt.result_processor(dialect, None) or _identity
        p = self.ph
        self.member_cols = ", ".join(q(c) for c in MEMBER_COLS)
        self.insert_member = (f"INSERT INTO {members.name} ({self.member_cols}) VALUES "
                              f"({', '.join([p] * len(MEMBER_COLS))})")
        a = activity.name
        self.activity = (f"INSERT INTO {a} (playbook, group_id, {q('day')}, member_hash, "
                         f"messages) VALUES ({p}, {p}, {p}, {p}, {p}) ON CONFLICT "
                         f"(playbook, group_id, {q('day')}, member_hash) DO UPDATE SET "
                         f"messages = {a}.messages + excluded.messages")
        w = welcome_queue.name
        self.unqueue_sql = (f"DELETE FROM {w} WHERE playbook = {p} AND group_id = {p} "
                            f"AND member_id = {p}")
        self.queue_sql = (f"INSERT INTO {w} (playbook, group_id, member_id, event_id, "
                          f"nickname, joined_at) VALUES ({', '.join([p] * 6)})")
        self.outbox_sql = (f"INSERT INTO {outbox.name} (playbook, {q('key')}, channel, "
                           f"action, {q('at')}) VALUES ({', '.join([p] * 5)})")
        self.blacklist_sql = (f"INSERT INTO {blacklist.name} (playbook, member_hash, "
                              f"{q('at')}, reason) VALUES ({', '.join([p] * 4)}) "
                              f"ON CONFLICT (playbook, member_hash) DO NOTHING")
        self._updates: dict[tuple[str, ...], str] = {}
        self.dt_cols = {c.name for c in members.columns
                        if isinstance(c.type, type(members.c.joined_at.type))}

    def _in(self, n: int) -> str:
        return "(" + ", ".join([self.ph] * n) + ")"

    def mark_processed(self, conn: Connection, pb: str, rows: Sequence[tuple[str, str, Any]]
                       ) -> Callable[[], set[str]]:
        """Insert (hash, kind, at) rows; returns a function that reads the hashes that
        were new (sent now, read when called: several statements can share a round
        trip in :func:`pipelined`)."""
        p, to_db = self.ph, self.to_db
        cursors = []
        for i in range(0, len(rows), CHUNK):
            part = rows[i:i + CHUNK]
            sql = (f"INSERT INTO {processed.name} (playbook, event_hash, kind, {self.q('at')}) "
                   f"VALUES {', '.join([f'({p}, {p}, {p}, {p})'] * len(part))} "
                   f"ON CONFLICT (playbook, event_hash) DO NOTHING RETURNING event_hash")
            params: list[Any] = []
            for h, kind, at in part:
                params += (pb, h, kind, to_db(at))
            cursors.append(_run(conn, sql, tuple(params)))
        return lambda: {r[0] for cur in cursors for r in cur}

    def blacklisted(self, conn: Connection, pb: str, hashes: Sequence[str]
                    ) -> Callable[[], set[str]]:
        """The barred among ``hashes``, read when the returned function is called."""
        cursors = []
        for i in range(0, len(hashes), CHUNK):
            part = list(hashes[i:i + CHUNK])
            sql = (f"SELECT member_hash FROM {blacklist.name} WHERE playbook = {self.ph} "
                   f"AND member_hash IN {self._in(len(part))}")
            cursors.append(_run(conn, sql, (pb, *part)))
        return lambda: {r[0] for cur in cursors for r in cur}

    def members(self, conn: Connection, pb: str, pairs: Sequence[tuple[str, str]]
                ) -> Callable[[], list[dict[str, Any]]]:
        """Rows of ``members`` (as dicts, datetimes converted) among (group, member)
        ``pairs``, read when the returned function is called; SQLite may also return
        other pairs of those groups and members."""
        conv = [i for i, c in enumerate(MEMBER_COLS) if c in self.dt_cols]
        head = f"SELECT {self.member_cols} FROM {members.name} WHERE playbook = {self.ph} AND "
        cursors = []
        for i in range(0, len(pairs), CHUNK):
            part = pairs[i:i + CHUNK]
            if self.ph == "?":  # SQLite searches the primary key for two IN lists, but
                # scans the playbook's rows for a list of pairs
                groups, who = sorted({g for g, _m in part}), sorted({m for _g, m in part})
                sql = (head + f"group_id IN {self._in(len(groups))} "
                       f"AND member_id IN {self._in(len(who))}")
                params: tuple[Any, ...] = (pb, *groups, *who)
            else:  # PostgreSQL probes the primary key once per pair (a nested loop), where
                # two IN lists become a bitmap scan of the playbook's whole key range
                pair = f"({self.ph}, {self.ph})"
                sql = head + f"(group_id, member_id) IN (VALUES {', '.join([pair] * len(part))})"
                params = (pb, *(x for gm in part for x in gm))
            cursors.append(_run(conn, sql, params))

        def read() -> list[dict[str, Any]]:
            out = []
            for cur in cursors:
                for row in cur:
                    r = list(row)
                    for j in conv:
                        if r[j] is not None:
                            r[j] = self.from_db(r[j])
                    out.append(dict(zip(MEMBER_COLS, r, strict=True)))
            return out

        return read

    def count_messages(self, conn: Connection, rows: list[tuple[str, str, str, str, int]]
                       ) -> None:
        _run(conn, self.activity, rows)

    def unqueue(self, conn: Connection, rows: list[tuple[str, str, str]]) -> None:
        """(playbook, group, member) rows out of the welcome queue."""
        _run(conn, self.unqueue_sql, rows)

    def queue(self, conn: Connection, rows: list[tuple[str, str, str, str, str, Any]]
              ) -> None:
        """(playbook, group, member, event id, nickname, joined at) into the welcome queue."""
        _run(conn, self.queue_sql, [(*r[:5], self.to_db(r[5])) for r in rows])

    def add_outbox(self, conn: Connection, rows: list[tuple[str, str, str, str, Any]]
                   ) -> None:
        """(playbook, key, channel, action JSON, at) rows."""
        _run(conn, self.outbox_sql, [(*r[:4], self.to_db(r[4])) for r in rows])

    def add_blacklist(self, conn: Connection, rows: list[tuple[str, str, Any, str]]) -> None:
        """(playbook, member hash, at, reason) rows; a digest already there stays as is."""
        _run(conn, self.blacklist_sql, [(r[0], r[1], self.to_db(r[2]), r[3])
                                                  for r in rows])

    def insert_members(self, conn: Connection, rows: list[dict[str, Any]]) -> None:
        _run(conn, self.insert_member, [self._tuple(r, MEMBER_COLS) for r in rows])

    def update_members(self, conn: Connection, names: tuple[str, ...],
                       rows: list[tuple[dict[str, Any], str, str, str]]) -> None:
        """``rows``: (values of ``names``, playbook, group, member)."""
        sql = self._updates.get(names)
        if sql is None:
            p = self.ph
            sql = self._updates[names] = (
                f"UPDATE {members.name} SET {', '.join(f'{self.q(n)} = {p}' for n in names)} "
                f"WHERE playbook = {p} AND group_id = {p} AND member_id = {p}")
        _run(conn, sql, [(*self._tuple(v, names), pb, g, m) for v, pb, g, m in rows])

    def _tuple(self, r: dict[str, Any], names: Sequence[str]) -> tuple[Any, ...]:
        dts, to_db = self.dt_cols, self.to_db
        return tuple(to_db(r[n]) if n in dts and r[n] is not None else r[n] for n in names)
