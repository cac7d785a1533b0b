"""The member store: who is in which group, as far as the SOP needs to know.

It lives in the ledger's database (same URL, own tables). What it keeps per member and
group is only what a reaction reads: nickname (for @mentions and the nickname rule), join
time, tags, funnel stage, spend and products bought (for promotion), violations, last
activity, check-in points. No phone numbers, no message texts.

Event ids and the blacklist are stored as SHA-256 digests, so `forget` can delete a member
entirely while a redelivered event still is not welcomed twice and a barred member stays
barred (the digest cannot be turned back into the id).
"""

from __future__ import annotations

import functools
import hashlib
import json
from collections.abc import Iterable
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from ..run.ledger import Ledger, UTCDateTime
from .reactions import MemberState

metadata = sa.MetaData()
members = sa.Table(
    "sopctl_ev_members", metadata,
    sa.Column("playbook", sa.String(200), primary_key=True),
    sa.Column("group_id", sa.String(200), primary_key=True),
    sa.Column("member_id", sa.String(200), primary_key=True),
    sa.Column("nickname", sa.String(200), nullable=False, default=""),
    sa.Column("joined_at", UTCDateTime, nullable=True),
    sa.Column("left_at", UTCDateTime, nullable=True),
    sa.Column("tags", sa.Text, nullable=False, default="[]"),
    sa.Column("stage", sa.String(200), nullable=True),
    sa.Column("stage_at", UTCDateTime, nullable=True),
    sa.Column("spend", sa.Float, nullable=False, default=0.0),
    sa.Column("bought", sa.Text, nullable=False, default="[]"),
    sa.Column("violations", sa.Integer, nullable=False, default=0),
    sa.Column("last_active", UTCDateTime, nullable=True),
    sa.Column("points", sa.Integer, nullable=False, default=0),
    sa.Column("last_checkin", sa.String(10), nullable=True),
    sa.Column("welcomed", sa.Boolean, nullable=False, default=False),
    sa.Index("sopctl_ev_members_member", "member_id"),
)
processed = sa.Table(
    "sopctl_ev_processed", metadata,
    sa.Column("playbook", sa.String(200), primary_key=True),
    sa.Column("event_hash", sa.String(64), primary_key=True),
    sa.Column("kind", sa.String(20), nullable=False),
    sa.Column("at", UTCDateTime, nullable=False),
)
blacklist = sa.Table(
    "sopctl_ev_blacklist", metadata,
    sa.Column("playbook", sa.String(200), primary_key=True),
    sa.Column("member_hash", sa.String(64), primary_key=True),
    sa.Column("at", UTCDateTime, nullable=False),
    sa.Column("reason", sa.String(200), nullable=False, default=""),
)
inbox_offsets = sa.Table(
    "sopctl_ev_inbox", metadata,
    sa.Column("path", sa.String(1000), primary_key=True),
    sa.Column("offset", sa.BigInteger, nullable=False),
    sa.Column("inode", sa.String(100), nullable=False, default=""),
    sa.Column("line", sa.BigInteger, nullable=False, default=0),  # for file:line in logs
)
# What the engine claimed and has not finished: the action as sent, so a process that
# takes a claim over (its holder died) can send it. Deleted once the row is final.
outbox = sa.Table(
    "sopctl_ev_outbox", metadata,
    sa.Column("playbook", sa.String(200), primary_key=True),
    sa.Column("key", sa.String(400), primary_key=True),
    sa.Column("channel", sa.String(200), nullable=False),
    sa.Column("action", sa.Text, nullable=False),  # JSON
    sa.Column("at", UTCDateTime, nullable=False),
)
# Newcomers waiting for their shared welcome: in the database, so that every `serve`
# process on one store forms each batch once, and a restart keeps them.
welcome_queue = sa.Table(
    "sopctl_ev_welcome_queue", metadata,
    sa.Column("playbook", sa.String(200), primary_key=True),
    sa.Column("group_id", sa.String(200), primary_key=True),
    sa.Column("member_id", sa.String(200), primary_key=True),
    sa.Column("event_id", sa.String(400), nullable=False),
    sa.Column("nickname", sa.String(200), nullable=False, default=""),
    sa.Column("joined_at", UTCDateTime, nullable=False),
)

# messages a member wrote in a group on a day of the playbook's clock: what `sopctl calibrate
# --from store` fits speaking and messages to. The member appears only as a digest.
activity = sa.Table(
    "sopctl_ev_activity", metadata,
    sa.Column("playbook", sa.String(200), primary_key=True),
    sa.Column("group_id", sa.String(200), primary_key=True),
    sa.Column("day", sa.String(10), primary_key=True),
    sa.Column("member_hash", sa.String(64), primary_key=True),
    sa.Column("messages", sa.Integer, nullable=False, default=0),
)

_STATE = ("nickname", "joined_at", "stage", "stage_at", "spend", "violations", "last_active",
          "points", "last_checkin")


@functools.lru_cache(maxsize=1 << 16)  # a batch asks for each member's several times
def digest(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


class MemberStore:
    """Members, processed event ids and the blacklist, for one playbook."""

    def __init__(self, ledger: Ledger, playbook: str):
        self.ledger = ledger
        self.engine = ledger.engine
        self.playbook = playbook
        with self.engine.begin() as conn:
            ledger.schema_lock(conn)
            metadata.create_all(conn, checkfirst=True)
        self._prepare()

    def _prepare(self) -> None:
        """Hot-path statements built once: building Core statements costs more than
        running them on SQLite."""
        b = sa.bindparam
        c, bl = members.c, blacklist.c
        who = (c.playbook == b("k_pb"), c.group_id == b("k_g"), c.member_id == b("k_m"))
        self._q_processed = (self._insert(processed).values(
            playbook=b("pb"), event_hash=b("h"), kind=b("kind"), at=b("at"))
            .on_conflict_do_nothing(index_elements=["playbook", "event_hash"])
            .returning(processed.c.kind))  # rowcount is -1 on psycopg 3: ask for the row
        self._q_load = sa.select(members).where(*who)
        self._q_black = sa.select(bl.at).where(bl.playbook == b("pb"), bl.member_hash == b("h"))
        self._q_update: dict[tuple[str, ...], Any] = {}  # by the columns written
        self._q_insert = members.insert()
        self._who = who
    def _insert(self, table: sa.Table) -> Any:
        if self.ledger.dialect == "postgresql":
            from sqlalchemy.dialects.postgresql import insert
        else:
            from sqlalchemy.dialects.sqlite import insert
        return insert(table)

    # ------------------------------------------------------------------ per event
    def mark_processed(self, conn: Connection, event_id: str, kind: str, at: datetime) -> bool:
        """False when this event id was processed before (a redelivery)."""
        return conn.execute(self._q_processed, {"pb": self.playbook, "h": digest(event_id),
                                                "kind": kind, "at": at}).first() is not None

    def seen(self, event_id: str) -> bool:
        c = processed.c
        with self.engine.connect() as conn:
            return conn.execute(sa.select(c.kind).where(
                c.playbook == self.playbook, c.event_hash == digest(event_id))).first() is not None

    def load(self, conn: Connection, group: str, member: str) -> tuple[MemberState, bool]:
        """The member's state (a fresh one when unknown) and whether a row exists."""
        row = conn.execute(self._q_load, {"k_pb": self.playbook, "k_g": group,
                                          "k_m": member}).mappings().first()
        bl = self.is_blacklisted(conn, member)
        if row is None:
            return MemberState(member, group, blacklisted=bl), False
        return _state(row, bl), True

    def save(self, conn: Connection, m: MemberState, exists: bool, **extra: Any) -> None:
        values = {k: getattr(m, k) for k in _STATE}
        values.update(tags=json.dumps(m.tags, ensure_ascii=False),
                      bought=json.dumps(m.bought, ensure_ascii=False), **extra)
        if exists:
            names = tuple(sorted(values))
            stmt = self._q_update.get(names)
            if stmt is None:
                stmt = self._q_update[names] = members.update().where(*self._who).values(
                    {n: sa.bindparam("v_" + n) for n in names})
            conn.execute(stmt, {"k_pb": self.playbook, "k_g": m.group, "k_m": m.member,
                                **{"v_" + n: v for n, v in values.items()}})
        else:
            conn.execute(self._q_insert, {"playbook": self.playbook, "group_id": m.group,
                                          "member_id": m.member, "welcomed": False,
                                          "left_at": None, **values})

    def is_blacklisted(self, conn: Connection, member: str) -> bool:
        return conn.execute(self._q_black, {"pb": self.playbook, "h": digest(member)}
                            ).first() is not None

    def add_blacklist(self, conn: Connection, member: str, at: datetime, reason: str) -> None:
        conn.execute(self._insert(blacklist).values(
            playbook=self.playbook, member_hash=digest(member), at=at, reason=reason[:200])
            .on_conflict_do_nothing(index_elements=["playbook", "member_hash"]))

    def mark_welcomed(self, conn: Connection, group: str, member_ids: Iterable[str]) -> None:
        c = members.c
        conn.execute(members.update().where(
            c.playbook == self.playbook, c.group_id == group,
            c.member_id.in_(list(member_ids))).values(welcomed=True))

    # ------------------------------------------------------------------ reads
    def all_states(self, active_only: bool = True) -> list[MemberState]:
        c = members.c
        q = sa.select(members).where(c.playbook == self.playbook)
        if active_only:
            q = q.where(c.left_at.is_(None))
        with self.engine.connect() as conn:
            return [_state(r, False) for r in conn.execute(q).mappings()]

    def get(self, group: str, member: str) -> dict[str, Any] | None:
        c = members.c
        with self.engine.connect() as conn:
            r = conn.execute(sa.select(members).where(
                c.playbook == self.playbook, c.group_id == group, c.member_id == member)
            ).mappings().first()
            return _public(r) if r else None

    def export(self, member: str) -> dict[str, Any]:
        """Everything held about ``member``, in every group and playbook (for a data
        request): their rows, and whether they are blacklisted."""
        c, b = members.c, blacklist.c
        with self.engine.connect() as conn:
            rows = [_public(r) for r in conn.execute(
                sa.select(members).where(c.member_id == member)
                .order_by(c.playbook, c.group_id)).mappings()]
            bl = [dict(r) for r in conn.execute(sa.select(b.playbook, b.at, b.reason).where(
                b.member_hash == digest(member))).mappings()]
            a = activity.c
            days = [dict(r) for r in conn.execute(
                sa.select(a.playbook, a.group_id, a.day, a.messages)
                .where(a.member_hash == digest(member))
                .order_by(a.playbook, a.group_id, a.day)).mappings()]
        for r in bl:
            r["at"] = r["at"].isoformat()
        return {"member": member, "groups": rows, "blacklisted": bl, "messages_per_day": days}

    def forget(self, member: str) -> int:
        """Delete every row about ``member``; the blacklist keeps only its digest."""
        c = members.c
        with self.engine.begin() as conn:
            conn.execute(welcome_queue.delete().where(welcome_queue.c.member_id == member))
            conn.execute(activity.delete().where(activity.c.member_hash == digest(member)))
            return conn.execute(members.delete().where(c.member_id == member)).rowcount

    def duplicates(self, mark: bool = False) -> dict[str, list[str]]:
        """Members present in more than one group (群成员去重): member -> groups, in join
        order. With ``mark``, every group but the first tags them "duplicate"."""
        c = members.c
        out: dict[str, list[str]] = {}
        with self.engine.begin() as conn:
            rows = conn.execute(sa.select(c.member_id, c.group_id, c.tags).where(
                c.playbook == self.playbook, c.left_at.is_(None))
                .order_by(c.member_id, c.joined_at, c.group_id)).all()
            for mid, gid, _tags in rows:
                out.setdefault(mid, []).append(gid)
            out = {m: g for m, g in out.items() if len(g) > 1}
            if mark:
                for mid, gid, tags in rows:
                    if mid in out and gid != out[mid][0]:
                        t = json.loads(tags)
                        if "duplicate" not in t:
                            conn.execute(members.update().where(
                                c.playbook == self.playbook, c.group_id == gid,
                                c.member_id == mid).values(
                                tags=json.dumps([*t, "duplicate"], ensure_ascii=False)))
        return out

    # ------------------------------------------------------------------ inbox offsets
    def offset(self, path: str) -> tuple[int, int, str]:
        """(byte offset, lines read, file identity) of an inbox file."""
        c = inbox_offsets.c
        with self.engine.connect() as conn:
            r = conn.execute(sa.select(c.offset, c.line, c.inode).where(c.path == path)).first()
            return (int(r[0]), int(r[1]), r[2]) if r else (0, 0, "")

    def set_offset(self, path: str, offset: int, inode: str, line: int) -> None:
        c = inbox_offsets.c
        with self.engine.begin() as conn:
            n = conn.execute(inbox_offsets.update().where(c.path == path).values(
                offset=offset, inode=inode, line=line)).rowcount
            if not n:
                conn.execute(inbox_offsets.insert().values(path=path, offset=offset,
                                                           inode=inode, line=line))


def _state(r: Any, blacklisted: bool) -> MemberState:
    return MemberState(
        member=r["member_id"], group=r["group_id"], nickname=r["nickname"],
        joined_at=r["joined_at"], tags=_list(r["tags"]), stage=r["stage"],
        stage_at=r["stage_at"], spend=r["spend"], bought=_list(r["bought"]),
        violations=r["violations"], last_active=r["last_active"], blacklisted=blacklisted,
        points=r["points"], last_checkin=r["last_checkin"])


def _list(text: str) -> list:
    return [] if text == "[]" else json.loads(text)  # most lists are empty


def _public(r: Any) -> dict[str, Any]:
    d = dict(r)
    d["tags"], d["bought"] = json.loads(d["tags"]), json.loads(d["bought"])
    return {k: (v.isoformat() if isinstance(v, datetime) else v) for k, v in d.items()}

