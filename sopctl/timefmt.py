"""Times as operators read and write them: in the playbook's timezone, labelled with it.

The ledger and the plan hold aware UTC instants; everything a person reads is shown in
the playbook's local time with its zone named (``07:30 Asia/Shanghai``), and UTC stays
in JSON and CSV. A date-time typed on the command line without an offset is read in the
playbook's timezone: one function, :func:`parse_instant`, does that for every option.
Without a playbook the zone is UTC, and the label says so.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from functools import cache
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from .i18n import _

_DURATION = re.compile(r"^(\d+(?:\.\d+)?)\s*(s|sec|m|min|h|d|w)?$")
# a bare number is minutes, as in playbooks
_UNIT = {"s": 1, "sec": 1, "m": 60, "min": 60, "h": 3600, "d": 86400, "w": 604800, None: 60}


@cache
def zone(tz: str | None) -> tzinfo:
    """The zone named ``tz`` (an IANA name); UTC when ``tz`` is None or empty."""
    if not tz or tz == "UTC":
        return UTC
    return ZoneInfo(tz)


def zone_label(tz: str | None) -> str:
    """How a zone is named next to a time: the IANA name, or ``UTC``."""
    return tz if tz else "UTC"


def local(t: datetime, tz: str | None) -> datetime:
    """``t`` (aware; a naive value is taken as UTC, as the ledger stores it) in ``tz``."""
    if t.tzinfo is None:
        t = t.replace(tzinfo=UTC)
    return t.astimezone(zone(tz))


def clock(t: datetime, tz: str | None, *, label: bool = True, seconds: bool = False) -> str:
    """``07:30 Asia/Shanghai`` (``label=False``: ``07:30``)."""
    text = local(t, tz).strftime("%H:%M:%S" if seconds else "%H:%M")
    return f"{text} {zone_label(tz)}" if label else text


def stamp(t: datetime, tz: str | None, *, label: bool = True, year: bool = True) -> str:
    """``2026-12-02 07:30 Asia/Shanghai`` (``year=False``: ``12-02 07:30 …``)."""
    text = local(t, tz).strftime("%Y-%m-%d %H:%M" if year else "%m-%d %H:%M")
    return f"{text} {zone_label(tz)}" if label else text


def resolve_wall(wall: datetime, tz: str | None) -> datetime:
    """A naive local wall time in ``tz`` -> aware UTC, by the plan's DST rules: a time that
    exists twice is its first instance, a time in the spring-forward gap moves past it."""
    z = zone(tz)
    first = wall.replace(tzinfo=z, fold=0)
    utc = first.astimezone(UTC)
    if utc.astimezone(z).replace(tzinfo=None) == wall:
        return utc
    # in a gap: the later reading (fold=1 uses the offset before the change) overshoots;
    # the first valid instant after the gap is where the new offset starts
    lo = wall.replace(tzinfo=z, fold=1).astimezone(UTC)
    hi = utc
    after = hi.astimezone(z).utcoffset()
    while hi - lo > timedelta(seconds=1):
        mid = (lo + (hi - lo) / 2).replace(microsecond=0)
        if mid <= lo:
            break
        if mid.astimezone(z).utcoffset() == after:
            hi = mid
        else:
            lo = mid
    return hi


def parse_instant(value: str | None, *, tz: str | None, now: datetime,
                  option: str = "--since") -> datetime | None:
    """What a person typed for an instant, as aware UTC (None for an empty value).

    * a duration back from ``now``: ``24h``, ``90m``, ``2d``, ``1w``, ``30s``;
    * ``today`` or ``yesterday``: local midnight in ``tz``;
    * an ISO date (``2026-12-02``): local midnight of that day in ``tz``;
    * an ISO date-time: its offset when it has one (``…T07:00+08:00``, ``…Z``), else a wall
      time in ``tz`` (the playbook's timezone; UTC when there is no playbook).
    """
    from .errors import UsageError

    if value is None or not value.strip():
        return None
    v = value.strip()
    m = _DURATION.fullmatch(v.lower())
    if m:
        return now - timedelta(seconds=float(m.group(1)) * _UNIT[m.group(2)])
    today = local(now, tz).date()
    if v.lower() in ("today", "今天", "yesterday", "昨天"):
        day = today if v.lower() in ("today", "今天") else today - timedelta(days=1)
        return resolve_wall(datetime.combine(day, time()), tz)
    try:
        if len(v) == 10:
            return resolve_wall(datetime.combine(date.fromisoformat(v), time()), tz)
        t = datetime.fromisoformat(v.replace(" ", "T", 1))
    except ValueError:
        raise UsageError(
            _("{option} '{value}' is neither a duration nor a date-time").format(
                option=option, value=value),
            hint=_("write a duration (24h, 90m, 2d), a date (2026-12-02) or a date-time "
                   "(2026-12-02T10:00, read in {zone}; or with an offset, "
                   "2026-12-02T10:00+08:00)").format(zone=zone_label(tz))) from None
    if t.tzinfo is not None:
        return t.astimezone(UTC)
    return resolve_wall(t, tz)


def check_zone(tz: str) -> str:
    """``tz`` when it names an IANA zone, else a usage error."""
    from .errors import UsageError

    try:
        zone(tz)
    except (ZoneInfoNotFoundError, ValueError):
        raise UsageError(_("unknown IANA timezone '{tz}'").format(tz=tz),
                         hint=_('China uses "Asia/Shanghai"')) from None
    return tz


def known_playbooks(paths: list[str] | None = None) -> dict[str, Any]:
    """Playbook name -> Playbook, for the named files, else the one found here (none: an
    empty map). A file that cannot be read is skipped: these only label what the ledger
    says (zones, group names), they never decide what is shown."""
    from .playbook.discover import find_playbook
    from .playbook.loader import load_playbook

    targets = [p for p in (paths or []) if p and p != "-"]
    if not targets:
        found = find_playbook(required=False)
        targets = [found] if found else []
    out: dict[str, Any] = {}
    for p in targets:
        try:
            pb = load_playbook(p).playbook
        except Exception:  # a label source, never a reason to stop
            continue
        if pb is not None:
            out[pb.name] = pb
    return out


def playbook_zones(paths: list[str] | None = None) -> dict[str, str]:
    """Playbook name -> timezone (see :func:`known_playbooks`); empty: times shown in UTC."""
    return {n: pb.timezone for n, pb in known_playbooks(paths).items()}


def group_labels(books: dict[str, Any]) -> dict[tuple[str, str], str]:
    """(playbook name, group id) -> the group's name as operators know it (美肌福利群001)."""
    from .plan.groups import group_display_name, playbook_groups

    out: dict[tuple[str, str], str] = {}
    for name, pb in books.items():
        try:
            groups = playbook_groups(pb)
        except Exception:  # an inventory file gone missing: ids will do
            continue
        out.update({(name, g.id): group_display_name(pb, g) for g in groups})
    return out


def shared_zone(zones: dict[str, str], names: list[str] | None = None) -> str | None:
    """The one zone all ``names`` (default: every playbook) are in, or None (UTC) when they
    differ or none is known."""
    found = {zones.get(n) for n in (names if names is not None else list(zones))}
    return found.pop() if len(found) == 1 else None
