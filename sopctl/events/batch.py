"""One group commit's member-store work in a handful of statements.

The receiver commits whatever events have queued up in one transaction (group commit).
Reading and writing member by member costs a database round trip per statement and
event; here every member a batch touches is read at once, the reactions run in memory
(an event sees what earlier events of the same batch changed), and the writes go out as
one multi-row statement per table.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import replace
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from .reactions import MemberState
from .store import _STATE, MemberStore, _state, activity, blacklist, digest, members, processed
from .store import welcome_queue as wq_table
from .types import Event


class _Statements:
    """Built once per store: a Core statement memoizes its cache key, so reusing the
    object saves the compile-cache lookup that costs more than SQLite's own work."""

    def __init__(self, store: MemberStore) -> None:
        b = sa.bindparam
        c, bl, w = members.c, blacklist.c, wq_table.c
        self.fresh = (store._insert(processed)
                      .on_conflict_do_nothing(index_elements=["playbook", "event_hash"])
                      .returning(processed.c.event_hash))
        self.black = sa.select(bl.member_hash).where(
            bl.playbook == b("pb"), bl.member_hash.in_(b("hashes", expanding=True)))
        # both columns of the primary key: SQLite searches it instead of scanning the
        # playbook's members (without statistics it would not pick the member_id index)
        self.members = sa.select(members).where(
            c.playbook == b("pb"), c.group_id.in_(b("groups", expanding=True)),
            c.member_id.in_(b("who", expanding=True)))
        self.unqueue = wq_table.delete().where(
            w.playbook == b("b_pb"), w.group_id == b("b_g"), w.member_id == b("b_m"))
        self.queue = wq_table.insert()
        self.blacklist = store._insert(blacklist).on_conflict_do_nothing(
            index_elements=["playbook", "member_hash"])
        self.insert = members.insert()
        ins = store._insert(activity)
        self.activity = ins.on_conflict_do_update(
            index_elements=["playbook", "group_id", "day", "member_hash"],
            set_={"messages": activity.c.messages + ins.excluded.messages})
        self.updates: dict[tuple[str, ...], Any] = {}

    def update(self, names: tuple[str, ...]) -> Any:
        stmt = self.updates.get(names)
        if stmt is None:
            b, c = sa.bindparam, members.c
            stmt = self.updates[names] = members.update().where(
                c.playbook == b("k_pb"), c.group_id == b("k_g"), c.member_id == b("k_m")
            ).values({n: b("v_" + n) for n in names})
        return stmt


class StoreBatch:
    def __init__(self, store: MemberStore, conn: Connection) -> None:
        self.store, self.conn, self.pb = store, conn, store.playbook
        q = getattr(store, "_batch_statements", None)
        if q is None:
            q = store._batch_statements = _Statements(store)  # type: ignore[attr-defined]
        self.q: _Statements = q
        self._states: dict[tuple[str, str], MemberState] = {}
        self._in_db: set[tuple[str, str]] = set()
        self._extra: dict[tuple[str, str], dict[str, Any]] = {}
        self._dirty: set[tuple[str, str]] = set()
        self._black: set[str] = set()
        self._new_black: dict[str, tuple[datetime, str]] = {}
        self._queue: dict[tuple[str, str], dict[str, Any] | None] = {}
        self._spoke: dict[tuple[str, str, str], int] = {}  # (group, day, member hash)

    # ------------------------------------------------------------------ reads
    def fresh(self, events: list[Event]) -> list[Event]:
        """The events never processed before (on any process sharing the store), now
        marked processed; redeliveries and repeats within the batch are left out."""
        firsts: dict[str, Event] = {}
        for ev in events:
            firsts.setdefault(ev.id, ev)
        if not firsts:
            return []
        rows = [{"playbook": self.pb, "event_hash": digest(i), "kind": e.kind, "at": e.at}
                for i, e in firsts.items()]
        won = set(self.conn.execute(self.q.fresh, rows).scalars())
        return [e for i, e in firsts.items() if digest(i) in won]

    def prefetch(self, pairs: Iterable[tuple[str, str]]) -> None:
        want = sorted(set(pairs) - self._states.keys())
        if not want:
            return
        who = sorted({m for _g, m in want})
        self._black |= set(self.conn.execute(self.q.black, {
            "pb": self.pb, "hashes": [digest(m) for m in who]}).scalars())
        black = {m for m in who if digest(m) in self._black}
        groups = sorted({g for g, _m in want})
        for r in self.conn.execute(self.q.members, {"pb": self.pb, "groups": groups,
                                                    "who": who}).mappings():
            key = (r["group_id"], r["member_id"])
            if key in want:
                self._states[key] = _state(r, r["member_id"] in black)
                self._in_db.add(key)
        for g, m in want:
            self._states.setdefault((g, m), MemberState(m, g, blacklisted=m in black))

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
        self._queue[(group, member)] = {"playbook": self.pb, "group_id": group,
                                        "member_id": member, "event_id": event_id,
                                        "nickname": nickname, "joined_at": at}

    def unqueue_welcome(self, group: str, member: str) -> None:
        self._queue[(group, member)] = None

    def count_message(self, group: str, member: str, day: str) -> None:
        """One message by ``member`` in ``group`` on local ``day`` (YYYY-MM-DD)."""
        key = (group, day, digest(member))
        self._spoke[key] = self._spoke.get(key, 0) + 1

    def flush(self) -> None:
        conn, q = self.conn, self.q
        if self._queue:
            conn.execute(q.unqueue, [{"b_pb": self.pb, "b_g": g, "b_m": m}
                                     for g, m in self._queue])
            rows = [r for r in self._queue.values() if r is not None]
            if rows:
                conn.execute(q.queue, rows)
        if self._spoke:
            conn.execute(q.activity, [{"playbook": self.pb, "group_id": g, "day": d,
                                       "member_hash": h, "messages": n}
                                      for (g, d, h), n in sorted(self._spoke.items())])
        if self._new_black:
            conn.execute(q.blacklist, [{"playbook": self.pb, "member_hash": h, "at": at,
                                        "reason": why}
                                       for h, (at, why) in self._new_black.items()])
        inserts, updates = [], {}
        for key in sorted(self._dirty):
            m, extra = self._states[key], self._extra.get(key, {})
            values = {k: getattr(m, k) for k in _STATE}
            values.update(tags=json.dumps(m.tags, ensure_ascii=False),
                          bought=json.dumps(m.bought, ensure_ascii=False), **extra)
            if key in self._in_db:
                names = tuple(sorted(values))
                updates.setdefault(names, []).append(
                    {"k_pb": self.pb, "k_g": key[0], "k_m": key[1],
                     **{"v_" + n: v for n, v in values.items()}})
            else:
                inserts.append({"playbook": self.pb, "group_id": key[0], "member_id": key[1],
                                "welcomed": False, "left_at": None, **values})
        if inserts:
            conn.execute(q.insert, inserts)
        for names, params in updates.items():
            conn.execute(q.update(names), params)
