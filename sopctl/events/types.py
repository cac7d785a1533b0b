"""Events that reach a group, and the actions sopctl takes in answer.

Both are plain data: the receivers turn platform payloads into events, the reactions turn
events into actions, and only the engine touches the store and the ledger.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal

from ..i18n import _

_LINK = re.compile(r"(https?://|www\.)\S+|\b[\w-]+\.(com|cn|net|org|io|cc|top|xyz)\b", re.I)


def has_link(text: str) -> bool:
    """True when the text carries a URL or a bare domain (ads rarely bother with https://)."""
    return bool(_LINK.search(text))


@dataclass(frozen=True, slots=True)
class Event:
    """What every event carries. ``id`` is unique per delivery source and makes reactions
    idempotent: the same id processed twice yields nothing the second time."""

    id: str
    group: str  # playbook group id
    member: str  # platform user id
    at: datetime  # aware, UTC

    kind = "event"

    def __reduce__(self) -> tuple[type, tuple[Any, ...]]:
        # the fields in order, rebuilt through __init__: half the unpickling time of the
        # slots dataclass's own __setstate__ (events cross to the commit process)
        return type(self), tuple([getattr(self, f) for f in self.__match_args__])


@dataclass(frozen=True, slots=True)
class MemberJoined(Event):
    nickname: str = ""
    scene: str | None = None  # how they came in (WeCom JoinScene, a live-code channel)
    source: str | None = None  # acquisition channel tag

    kind = "join"


@dataclass(frozen=True, slots=True)
class MemberLeft(Event):
    scene: str | None = None

    kind = "leave"


@dataclass(frozen=True, slots=True)
class MessagePosted(Event):
    text: str = ""
    has_link: bool = False
    mentions: tuple[str, ...] = ()
    nickname: str = ""

    kind = "message"


@dataclass(frozen=True, slots=True)
class Purchase(Event):
    amount: float = 0.0
    product: str | None = None

    kind = "purchase"


@dataclass(frozen=True, slots=True)
class CheckIn(Event):
    kind = "checkin"


KINDS: dict[str, type[Event]] = {c.kind: c for c in (MemberJoined, MemberLeft, MessagePosted,
                                                      Purchase, CheckIn)}
_ALIASES = {"joined": "join", "member_joined": "join", "left": "leave", "member_left": "leave",
            "check-in": "checkin", "check_in": "checkin", "msg": "message"}


def parse_when(value: object) -> datetime:
    """Epoch seconds (or milliseconds) or ISO 8601; naive ISO is taken as UTC."""
    if isinstance(value, bool) or value is None:
        raise ValueError(_("missing or invalid `at`"))
    if isinstance(value, int | float):
        ts = float(value) / (1000 if value > 1e11 else 1)
        return datetime.fromtimestamp(ts, UTC)
    if isinstance(value, str):
        s = value.strip()
        if re.fullmatch(r"\d+(\.\d+)?", s):
            return parse_when(float(s))
        dt = datetime.fromisoformat(s.replace("Z", "+00:00"))
        return dt.replace(tzinfo=UTC) if dt.tzinfo is None else dt.astimezone(UTC)
    raise ValueError(_("invalid time {value}").format(value=repr(value)))


def event_from_dict(d: Any, now: datetime | None = None) -> Event:
    """The generic JSON form: {"id", "type", "group", "member", "at", ...}. Raises ValueError
    with a message fit for a log line."""
    if not isinstance(d, dict):
        raise ValueError(_("an event must be a JSON object"))
    kind = str(d.get("type", "")).lower()
    kind = _ALIASES.get(kind, kind)
    cls = KINDS.get(kind)
    if cls is None:
        raise ValueError(_("unknown event type {type} (expected one of {kinds})").format(
            type=repr(d.get("type")), kinds=", ".join(KINDS)))
    for name in ("id", "group", "member"):
        v = d.get(name)
        if v is None or (isinstance(v, str) and not v.strip()) or isinstance(v, dict | list):
            raise ValueError(_("event field `{name}` is missing").format(name=name))
    at = parse_when(d["at"]) if "at" in d else (now or datetime.now(UTC))
    base = {"id": str(d["id"]), "group": str(d["group"]), "member": str(d["member"]), "at": at}
    if cls is MemberJoined:
        return MemberJoined(**base, nickname=str(d.get("nickname") or ""),
                            scene=_opt(d.get("scene")), source=_opt(d.get("source")))
    if cls is MemberLeft:
        return MemberLeft(**base, scene=_opt(d.get("scene")))
    if cls is MessagePosted:
        text = str(d.get("text") or "")
        mentions = d.get("mentions") or ()
        if not isinstance(mentions, list | tuple):
            raise ValueError(_("`mentions` must be a list"))
        link = d.get("has_link")
        return MessagePosted(**base, text=text,
                             has_link=bool(link) if link is not None else has_link(text),
                             mentions=tuple(str(m) for m in mentions),
                             nickname=str(d.get("nickname") or ""))
    if cls is Purchase:
        try:
            amount = float(d.get("amount", 0))
        except (TypeError, ValueError):
            raise ValueError(_("`amount` must be a number")) from None
        if amount < 0 or amount != amount:
            raise ValueError(_("`amount` must be a non-negative number"))
        return Purchase(**base, amount=amount, product=_opt(d.get("product")))
    return CheckIn(**base)


def _opt(v: object) -> str | None:
    return None if v is None or v == "" else str(v)


ActionKind = Literal["post", "remove", "mute", "remind", "promote", "move", "tag", "points",
                     "blacklist"]


@dataclass(frozen=True, slots=True)
class Action:
    """One thing to do. ``key`` is the ledger key: the same key is never done twice."""

    kind: ActionKind
    key: str
    group: str
    member: str | None = None
    text: str = ""
    slot: str = ""  # welcome, reply:<id>, rule:<id>, promote:<stage>, ...
    mentions: tuple[str, ...] = ()
    data: dict[str, Any] = field(default_factory=dict)
