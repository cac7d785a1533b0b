"""One group commit's member-store work in a handful of statements.

The receiver commits whatever events have queued up in one transaction (group commit).
Reading and writing member by member costs a database round trip per statement and
event; here every member a batch touches is read at once, the reactions run in memory
(an event sees what earlier events of the same batch changed), and the writes go out as
one multi-row statement per table, as SQL text on the driver (sopctl/events/rawsql.py).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from dataclasses import replace
from datetime import datetime
from typing import Any

from sqlalchemy.engine import Connection

from .rawsql import RawStatements, pipelined
from .reactions import MemberState
from .store import _STATE, MemberStore, _state, digest
from .types import Event


def raw_statements(store: MemberStore, dialect: Any) -> RawStatements:
    """The store's SQL text, built once (the store serves one database)."""
    raw = getattr(store, "_raw_statements", None)
    if raw is None:
        raw = store._raw_statements = RawStatements(dialect)  # type: ignore[attr-defined]
    return raw


class StoreBatch:
    def __init__(self, store: MemberStore, conn: Connection) -> None:
        self.store, self.conn, self.pb = store, conn, store.playbook
        self.raw = raw_statements(store, conn.dialect)
        self._states: dict[tuple[str, str], MemberState] = {}
        self._in_db: set[tuple[str, str]] = set()
        self._extra: dict[tuple[str, str], dict[str, Any]] = {}
        self._dirty: set[tuple[str, str]] = set()
        self._black: set[str] = set()
        self._new_black: dict[str, tuple[datetime, str]] = {}
        self._queue: dict[tuple[str, str], tuple[str, str, str, str, str, datetime] | None] = {}
        self._spoke: dict[tuple[str, str, str], int] = {}  # (group, day, member hash)

    # ------------------------------------------------------------------ reads
    def fresh(self, events: list[Event]) -> list[Event]:
        """The events never processed before (on any process sharing the store), now
        marked processed; redeliveries and repeats within the batch are left out. Their
        members are read in the same round trip (a redelivery's too: harmless)."""
        firsts: dict[str, Event] = {}
        for ev in events:
            firsts.setdefault(ev.id, ev)
        if not firsts:
            return []
        hashes = {i: digest(i) for i in firsts}
        with pipelined(self.conn):  # on PostgreSQL, one round trip for the three
            won = self.raw.mark_processed(self.conn, self.pb, [
                (hashes[i], e.kind, e.at) for i, e in firsts.items()])
            read = self._ask((e.group, e.member) for e in firsts.values())
            fresh = won()
            read()
        return [e for i, e in firsts.items() if hashes[i] in fresh]

    def prefetch(self, pairs: Iterable[tuple[str, str]]) -> None:
        with pipelined(self.conn):
            self._ask(pairs)()

    def _ask(self, pairs: Iterable[tuple[str, str]]) -> Callable[[], None]:
        """Send the reads of ``pairs``' members and of their blacklisting; the function
        returned takes the answers in."""
        want = sorted(set(pairs) - self._states.keys())
        if not want:
            return lambda: None
        who = sorted({m for _g, m in want})
        raw = self.raw
        black_q = raw.blacklisted(self.conn, self.pb, [digest(m) for m in who])
        rows_q = raw.members(self.conn, self.pb, want)

        def read() -> None:
            self._black |= black_q()
            black = {m for m in who if digest(m) in self._black}
            wanted = set(want)
            for r in rows_q():
                key = (r["group_id"], r["member_id"])
                if key in wanted:
                    self._states[key] = _state(r, r["member_id"] in black)
                    self._in_db.add(key)
            for g, m in want:
                self._states.setdefault((g, m), MemberState(m, g, blacklisted=m in black))

        return read

    def load(self, group: str, member: str) -> tuple[MemberState, bool]:
        """(state, whether the member is known), as left by earlier events of the batch."""
        key = (group, member)
        if key not in self._states:
            self.prefetch([key])
        return self._states[key], key in self._in_db or key in self._dirty

    # ------------------------------------------------------------------ writes
    def save(self, m: MemberState, exists: bool, **extra: Any) -> None:
        key = (m.group, m.member)
        if not m.blacklisted and digest(m.member) in self._black:  # barred by this batch
            m = replace(m, blacklisted=True)
        self._states[key] = m
        self._dirty.add(key)
        self._extra.setdefault(key, {}).update(extra)

    def add_blacklist(self, member: str, at: datetime, reason: str) -> None:
        h = digest(member)
        self._black.add(h)
        self._new_black.setdefault(h, (at, reason[:200]))
        for key, st in self._states.items():  # the member is barred in every group now
            if key[1] == member:
                self._states[key] = replace(st, blacklisted=True)

    def queue_welcome(self, group: str, member: str, event_id: str, nickname: str,
                      at: datetime) -> None:
        self._queue[(group, member)] = (self.pb, group, member, event_id, nickname, at)

    def unqueue_welcome(self, group: str, member: str) -> None:
        self._queue[(group, member)] = None

    def count_message(self, group: str, member: str, day: str) -> None:
        """One message by ``member`` in ``group`` on local ``day`` (YYYY-MM-DD)."""
        key = (group, day, digest(member))
        self._spoke[key] = self._spoke.get(key, 0) + 1

    def flush(self) -> None:
        with pipelined(self.conn):  # none of these is read back
            self._flush()

    def _flush(self) -> None:
        conn = self.conn
        if self._queue:
            self.raw.unqueue(conn, [(self.pb, g, m) for g, m in self._queue])
            rows = [r for r in self._queue.values() if r is not None]
            if rows:
                self.raw.queue(conn, rows)
        if self._spoke:
            self.raw.count_messages(conn, [(self.pb, g, d, h, n) for (g, d, h), n
                                        in sorted(self._spoke.items())])
        if self._new_black:
            self.raw.add_blacklist(conn, [(self.pb, h, at, why)
                                       for h, (at, why) in self._new_black.items()])
        inserts, updates = [], {}
        for key in sorted(self._dirty):
            m, extra = self._states[key], self._extra.get(key, {})
            values = {k: getattr(m, k) for k in _STATE}
            values.update(tags=_json(m.tags), bought=_json(m.bought), **extra)
            if key in self._in_db:
                updates.setdefault(tuple(sorted(values)), []).append(
                    (values, self.pb, key[0], key[1]))
            else:
                inserts.append({"playbook": self.pb, "group_id": key[0], "member_id": key[1],
                                "welcomed": False, "left_at": None, **values})
        if inserts:
            self.raw.insert_members(conn, inserts)
        for names, rows in updates.items():
            self.raw.update_members(conn, names, rows)


def _json(items: list) -> str:
    return json.dumps(items, ensure_ascii=False) if items else "[]"  # most lists are empty
