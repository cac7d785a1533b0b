"""Events in, reactions out: the member store and the delivery ledger in one transaction.

For each event, one database transaction (1) records its id as processed, (2) updates the
member, and (3) claims a ledger row for every outgoing message through the ledger's own
claim (:meth:`~sopctl.run.ledger.Ledger.claim_in`), keyed by the event id
("welcome/<group>/<event-id>", "reply/<group>/<event-id>", ...), with the action kept in
the outbox until its row is final. So a redelivered event is a no-op (on any number of
processes sharing the store), a crash before commit leaves nothing behind, and the messages
go out through the runner's claim -> send -> finish path (sopctl/events/deliver.py).

Newcomers wait in a table for their shared welcome; :meth:`EventEngine.tick` forms each due
batch once, whichever process gets there first.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import threading
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from ..i18n import _
from ..playbook.model import Playbook
from ..playbook.timeparse import parse_duration
from ..run.ledger import Claim, Ledger, deliveries
from . import policy
from . import reactions as r
from .batch import StoreBatch, raw_statements
from .store import MemberStore, welcome_queue
from .types import Action, CheckIn, Event, MemberJoined, MemberLeft, MessagePosted, Purchase

log = logging.getLogger("sopctl.events")
OUTGOING = ("post", "remind", "remove", "mute")  # actions that leave the process: ledger rows
LEASE_S = 600.0


class UnknownGroup(ValueError):
    pass


@dataclass(frozen=True, slots=True)
class Recorded:
    """A ledger row this engine claimed, handed to the sender."""

    action: Action
    channel: str
    at: datetime

    def to_json(self) -> str:
        a = asdict(self.action)
        a["mentions"] = list(a["mentions"])
        return json.dumps(a, ensure_ascii=False, default=str)

    @classmethod
    def from_row(cls, row: Any) -> Recorded:
        a = json.loads(row["action"])
        a["mentions"] = tuple(a.get("mentions") or ())
        return cls(Action(**a), row["channel"], row["at"])


Sender = Callable[[list[Recorded]], None]


def content_hash(x: Recorded) -> str:
    a = x.action
    h = hashlib.sha256(f"{x.channel}\x1f{a.kind}\x1f{a.text}\x1f{a.mentions!r}".encode())
    return h.hexdigest()[:16]


class EventEngine:
    """Thread-safe: the receivers call :meth:`handle` from many threads."""

    def __init__(self, pb: Playbook, ledger: Ledger, *, name: str | None = None,
                 can_remove: bool | None = None, now: Callable[[], datetime] | None = None,
                 lease_s: float = LEASE_S, hold_connection: bool = False):
        self.pb = pb
        self.name = name or pb.name
        self.ledger = ledger
        self.lease_s = lease_s
        self.store = MemberStore(ledger, self.name)
        self.tz = ZoneInfo(pb.timezone)
        self.now = now or (lambda: datetime.now(UTC))
        groups = r.group_by_id(pb)
        self.groups = groups
        self.by_chat = {str(g.chat_id): g.id for g in groups.values() if g.chat_id}
        # Telegram has banChatMember / restrictChatMember; elsewhere an admin acts by hand
        self.can_remove = pb.positioning.platform == "telegram" if can_remove is None \
            else can_remove
        admins = [p.userid or p.name for p in (*pb.roles.admins, *pb.roles.sub_owners)]
        owner = pb.roles.owner.userid or pb.roles.owner.name if pb.roles.owner else None
        self.admin = admins[0] if admins else owner
        self.window = r.FloodWindow()
        self.fired: dict[tuple[str, str, str], datetime] = {}
        self.batch_s = float(parse_duration(pb.welcome.batch_window)) if pb.welcome else 0.0
        self.lock = threading.Lock()
        self.listeners: list[Sender] = []
        self.hold_connection = hold_connection
        self._held: Connection | None = None

    # ------------------------------------------------------------------ lookups
    def resolve_group(self, ref: str) -> str:
        """A playbook group id or a platform chat id -> the group id."""
        if ref in self.groups:
            return ref
        if ref in self.by_chat:
            return self.by_chat[ref]
        raise UnknownGroup(f"unknown group {ref!r} (not a group id or chat_id in the playbook)")

    def channel_of(self, group: str) -> str:
        g = self.groups.get(group)
        w = self.pb.welcome.channel if self.pb.welcome else None
        return (g.channel if g and g.channel else None) or w or self.pb.channel or ""

    # ------------------------------------------------------------------ events
    def handle(self, ev: Event) -> list[Action]:
        """Process one event; returns its actions ([] for a redelivery)."""
        return self.handle_batch([ev])[0]

    def handle_batch(self, events: list[Event]) -> list[list[Action]]:
        """Process events in one transaction (group commit): all are stored, or none."""
        out, recorded = self.commit_batch(events)
        self.notify(recorded)
        return out

    def commit_batch(self, events: list[Event]) -> tuple[list[list[Action]], list[Recorded]]:
        """:meth:`handle_batch` without telling the listeners: the actions per event, and
        the ledger rows claimed for them (for a sender in another process)."""
        for ev in events:
            if ev.group not in self.groups:
                raise UnknownGroup(f"unknown group {ev.group!r}")
        out: dict[int, list[Action]] = {}
        recorded: list[Recorded] = []
        with self.lock, self._transaction() as conn:
            db = StoreBatch(self.store, conn)
            fresh = db.fresh(events)  # their members read with them
            for ev in fresh:
                acts = self._react(db, ev)
                out[id(ev)] = acts
                recorded += [Recorded(a, self.channel_of(a.group), ev.at) for a in acts
                             if a.kind in OUTGOING]
            db.flush()
            recorded = self._claim(conn, recorded)
        for ev in events:
            if id(ev) not in out:
                log.info(_("event {id} already processed; ignored").format(id=ev.id))
        return [out.get(id(ev), []) for ev in events], recorded

    @contextlib.contextmanager
    def _transaction(self) -> Iterator[Connection]:
        """A transaction for :meth:`commit_batch`; with ``hold_connection``, on one
        connection kept between them (a commit process runs one after another; the pool
        would check a connection out and back in for each).
        A held connection that broke (a database restart) is dropped; the next
        transaction opens another."""
        if not self.hold_connection:
            with self.ledger.engine.begin() as conn:
                yield conn
            return
        conn = self._held
        if conn is None or conn.closed or conn.invalidated:
            conn = self._held = self.ledger.engine.connect()
        try:
            with conn.begin():
                yield conn
        except BaseException:
            if conn.invalidated:
                conn.close()
                self._held = None
            raise

    def close(self) -> None:
        """Give back a held connection."""
        if self._held is not None:
            self._held.close()
            self._held = None

    def tick(self, now: datetime | None = None, *, force: bool = False) -> list[Action]:
        """Form the welcomes whose batch window closed (call every second or so). Each
        batch is taken out of the queue in the transaction that claims its welcome, so of
        several processes on one store exactly one forms it."""
        now = now or self.now()
        wq = welcome_queue.c
        with self.lock, self.ledger.engine.begin() as conn:
            if self.ledger.dialect == "postgresql":  # one former at a time per playbook
                conn.execute(sa.text("SELECT pg_advisory_xact_lock(hashtext(:k))"),
                             {"k": "sopctl-welcome/" + self.name})
            firsts = conn.execute(sa.select(wq.group_id, sa.func.min(wq.joined_at))
                                  .where(wq.playbook == self.name)
                                  .group_by(wq.group_id)).all()
            due = [g for g, first in firsts
                   if force or (now - first).total_seconds() >= self.batch_s]
            acts = []
            for group in sorted(due):
                rows = conn.execute(welcome_queue.delete().where(
                    wq.playbook == self.name, wq.group_id == group).returning(
                    wq.member_id, wq.event_id, wq.nickname, wq.joined_at)).all()
                if not rows:
                    continue
                rows.sort(key=lambda x: (x.joined_at, x.event_id))
                people = [(x.event_id, x.member_id, x.nickname) for x in rows]
                self.store.mark_welcomed(conn, group, [p[1] for p in people])
                acts.append(r.welcome_action(self.pb, group, people))
            recorded = self._claim(conn, [Recorded(a, self.channel_of(a.group), now)
                                          for a in acts])
        self.notify(recorded)
        return acts

    def pending_welcomes(self) -> dict[str, list[str]]:
        """group -> member ids waiting for their shared welcome, in join order."""
        wq = welcome_queue.c
        out: dict[str, list[str]] = {}
        with self.ledger.engine.connect() as conn:
            for g, m in conn.execute(sa.select(wq.group_id, wq.member_id).where(
                    wq.playbook == self.name).order_by(wq.joined_at, wq.event_id)):
                out.setdefault(g, []).append(m)
        return out

    def sweep(self, now: datetime | None = None) -> list[Action]:
        """Move the members who did not convert in time (call hourly)."""
        now = now or self.now()
        with self.lock:
            acts = r.overdue_moves(self.pb, self.store.all_states(), now)
            with self.ledger.engine.begin() as conn:
                for a in acts:
                    m, exists = self.store.load(conn, a.group, a.member or "")
                    if exists and m.stage != a.data["to"]:
                        m.stage, m.stage_at = a.data["to"], now
                        self.store.save(conn, m, True)
        return acts

    def _join(self, db: StoreBatch, ev: MemberJoined) -> tuple[list[Action], dict]:
        acts: list[Action] = []
        if ev.source:
            acts.append(Action("tag", f"tag/{ev.group}/{ev.id}", ev.group, ev.member,
                               data={"tag": f"source:{ev.source}"}))
        if not policy.welcome_applies(self.pb):
            return acts, {"left_at": None, "welcomed": True}
        if self.batch_s <= 0:  # no batching: the welcome goes with the join's transaction
            db.unqueue_welcome(ev.group, ev.member)
            acts.append(r.welcome_action(self.pb, ev.group,
                                         [(ev.id, ev.member, ev.nickname or "")]))
            return acts, {"left_at": None, "welcomed": True}
        db.queue_welcome(ev.group, ev.member, ev.id, ev.nickname or "", ev.at)
        return acts, {"left_at": None, "welcomed": False}

    def _react(self, db: StoreBatch, ev: Event) -> list[Action]:
        m, exists = db.load(ev.group, ev.member)
        acts: list[Action] = []
        extra: dict[str, Any] = {}
        if isinstance(ev, MemberJoined):
            if m.blacklisted:
                return r.blacklisted_join(ev, self.can_remove, self.admin)
            g = self.groups[ev.group]
            m.nickname = ev.nickname or m.nickname
            m.joined_at, m.last_active = ev.at, ev.at
            if m.stage is None and g.stage:
                m.stage, m.stage_at = g.stage, ev.at
            acts, extra = self._join(db, ev)
        elif isinstance(ev, MemberLeft):
            if not exists:
                return []
            extra = {"left_at": ev.at}
            db.unqueue_welcome(ev.group, ev.member)  # left before the shared welcome
        elif isinstance(ev, MessagePosted):
            m.nickname = ev.nickname or m.nickname
            m.last_active = ev.at
            db.count_message(ev.group, ev.member, ev.at.astimezone(self.tz).date().isoformat())
            if m.blacklisted:
                return []
            g = self.groups[ev.group]
            acts, _ = r.on_message(self.pb, ev, m, self.window, self.fired, self.can_remove,
                                   g.name or g.id, self.admin)
        elif isinstance(ev, Purchase):
            m = r.apply_purchase(m, ev)
            acts = r.promotion(self.pb, m, ev.at)
        elif isinstance(ev, CheckIn):
            day = ev.at.astimezone(self.tz).date().isoformat()
            acts = r.on_checkin(self.pb, ev, m, day)
            m.last_active = ev.at
        for a in acts:
            if a.kind == "tag" and a.data["tag"] not in m.tags:
                m.tags.append(a.data["tag"])
            elif a.kind == "points":
                m.points += int(a.data["points"])
                m.last_checkin = a.data["day"]
            elif a.kind == "promote":
                m.stage, m.stage_at = a.data["to"], ev.at
            elif a.kind == "blacklist":
                db.add_blacklist(ev.member, ev.at, a.slot)
            elif a.kind == "remove":
                extra["left_at"] = ev.at
        db.save(m, exists, **extra)
        return acts

    # ------------------------------------------------------------------ ledger
    def _claim(self, conn: Connection, recorded: list[Recorded]) -> list[Recorded]:
        """Claim through the ledger, in this transaction; keep the won actions in the
        outbox until their rows are final."""
        if not recorded:
            return []
        claims = [Claim(x.action.key, x.action.group, x.action.slot or x.action.kind, 0, x.at,
                        content_hash(x), x.channel) for x in recorded]
        won = set(self.ledger.claim_in(conn, self.name, claims, now=self.now(),
                                       lease_s=self.lease_s))
        mine = [x for x in recorded if x.action.key in won]
        if mine:
            raw_statements(self.store, conn.dialect).add_outbox(
                conn, [(self.name, x.action.key, x.channel, x.to_json(), x.at) for x in mine])
        return mine

    def notify(self, recorded: list[Recorded]) -> None:
        """Hand claimed rows to the listeners (the sender)."""
        if recorded:
            for fn in self.listeners:
                fn(recorded)

    def ledger_status(self, key: str) -> str | None:
        c = deliveries.c
        with self.ledger.engine.connect() as conn:
            return conn.execute(sa.select(c.status).where(c.playbook == self.name,
                                                          c.key == key)).scalar()
