"""Events in, reactions out: the member store and the delivery ledger in one transaction.

For each event, one database transaction (1) records its id as processed, (2) updates the
member, and (3) claims a ledger row for every outgoing message, keyed by the event id
("welcome/<group>/<event-id>", "reply/<group>/<event-id>", ...). So a redelivered event is
a no-op, a crash before commit leaves nothing behind, and the messages go out through the
same claim -> send -> finish path as the timetable's.
"""

from __future__ import annotations

import hashlib
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from ..playbook.model import Playbook
from ..run.ledger import Ledger, deliveries
from . import reactions as r
from .store import MemberStore
from .types import Action, CheckIn, Event, MemberJoined, MemberLeft, MessagePosted, Purchase

log = logging.getLogger("sopctl.events")
OUTGOING = ("post", "remind", "remove")  # actions that leave the process: ledger rows


class UnknownGroup(ValueError):
    pass


@dataclass(frozen=True, slots=True)
class Recorded:
    """A ledger row this engine claimed, handed to the sender."""

    action: Action
    channel: str
    at: datetime


Sender = Callable[[list[Recorded]], None]


class EventEngine:
    """Thread-safe: the receivers call :meth:`handle` from many threads."""

    def __init__(self, pb: Playbook, ledger: Ledger, *, name: str | None = None,
                 can_remove: bool | None = None, now: Callable[[], datetime] | None = None):
        self.pb = pb
        self.name = name or pb.name
        self.ledger = ledger
        self.store = MemberStore(ledger, self.name)
        self.tz = ZoneInfo(pb.timezone)
        self.now = now or (lambda: datetime.now(UTC))
        groups = r.group_by_id(pb)
        self.groups = groups
        self.by_chat = {str(g.chat_id): g.id for g in groups.values() if g.chat_id}
        # Telegram has banChatMember; elsewhere an admin removes by hand (a remind).
        self.can_remove = pb.positioning.platform == "telegram" if can_remove is None \
            else can_remove
        admins = [p.userid or p.name for p in (*pb.roles.admins, *pb.roles.sub_owners)]
        owner = pb.roles.owner.userid or pb.roles.owner.name if pb.roles.owner else None
        self.admin = admins[0] if admins else owner
        self.window = r.FloodWindow()
        self.fired: dict[tuple[str, str, str], datetime] = {}
        self.batches = r.WelcomeBatches()
        self.lock = threading.Lock()
        self.listeners: list[Sender] = []
        self._q_claim: Any = None
        self._restore_batches()

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
        for ev in events:
            if ev.group not in self.groups:
                raise UnknownGroup(f"unknown group {ev.group!r}")
        out: list[list[Action]] = []
        recorded: list[Recorded] = []
        with self.lock, self.ledger.engine.begin() as conn:
            for ev in events:
                if not self.store.mark_processed(conn, ev.id, ev.kind, ev.at):
                    log.info("event %s already processed; ignored", ev.id)
                    out.append([])
                    continue
                acts = self._react(conn, ev)
                recorded += self._claim(conn, acts, ev.at)
                out.append(acts)
        self._notify(recorded)
        return out

    def tick(self, now: datetime | None = None, *, force: bool = False) -> list[Action]:
        """Send the welcomes whose batch window closed (call every second or so)."""
        now = now or self.now()
        with self.lock:
            due = self.batches.due(self.pb, now, force=force)
            if not due:
                return []
            with self.ledger.engine.begin() as conn:
                for a in due:
                    self.store.mark_welcomed(conn, a.group, a.data.get("members", []))
                recorded = self._claim(conn, due, now)
        self._notify(recorded)
        return due

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

    def _react(self, conn: Connection, ev: Event) -> list[Action]:
        m, exists = self.store.load(conn, ev.group, ev.member)
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
            extra = {"left_at": None, "welcomed": self.pb.welcome is None}
            acts = r.on_join(self.pb, ev, self.batches)
            if any(a.slot == "welcome" for a in acts):
                extra["welcomed"] = True
        elif isinstance(ev, MemberLeft):
            if not exists:
                return []
            extra = {"left_at": ev.at}
            pending = self.batches.pending.get(ev.group)
            if pending:  # left before the shared welcome: leave them out of it
                pending[1][:] = [p for p in pending[1] if p[1] != ev.member]
                if not pending[1]:
                    del self.batches.pending[ev.group]
        elif isinstance(ev, MessagePosted):
            m.nickname = ev.nickname or m.nickname
            m.last_active = ev.at
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
                self.store.add_blacklist(conn, ev.member, ev.at, a.slot)
            elif a.kind == "remove":
                extra["left_at"] = ev.at
        self.store.save(conn, m, exists, **extra)
        return acts

    # ------------------------------------------------------------------ ledger
    def _claim(self, conn: Connection, acts: list[Action], at: datetime) -> list[Recorded]:
        out = [Recorded(a, self.channel_of(a.group), at) for a in acts if a.kind in OUTGOING]
        if not out:
            return []
        rows = [{"playbook": self.name, "key": x.action.key, "group_id": x.action.group,
                 "slot": x.action.slot or x.action.kind, "seq": 0, "scheduled_utc": at,
                 "content_hash": hashlib.sha256(x.action.text.encode()).hexdigest(),
                 "channel": x.channel, "status": "claimed", "attempts": 1, "reason": "",
                 "claimed_by": self.ledger.runner_id, "claimed_at": at,
                 "lease_until": at + timedelta(minutes=10)} for x in out]
        if self._q_claim is None:
            self._q_claim = (self.store._insert(deliveries)
                             .on_conflict_do_nothing(index_elements=["playbook", "key"])
                             .returning(deliveries.c.key))
        won = [x for x, row in zip(out, rows, strict=True)
               if conn.execute(self._q_claim, row).first() is not None]
        return won

    def _notify(self, recorded: list[Recorded]) -> None:
        for fn in self.listeners:
            if recorded:
                fn(recorded)

    def _restore_batches(self) -> None:
        since = self.now() - timedelta(days=1)
        for row in self.store.unwelcomed(since):
            at = row["joined_at"]
            self.batches.add(MemberJoined(f"{row['member_id']}@{at.timestamp():.0f}",
                                          row["group_id"], row["member_id"], at,
                                          nickname=row["nickname"]), row["nickname"])

    def ledger_status(self, key: str) -> str | None:
        c = deliveries.c
        with self.ledger.engine.connect() as conn:
            return conn.execute(sa.select(c.status).where(c.playbook == self.name,
                                                          c.key == key)).scalar()
