"""A plan as JSON records, CSV, or an iCalendar file (RFC 5545), for `sopctl agenda`."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta

from .types import Occurrence

FIELDS = ("key", "local", "at_utc", "group", "slot", "seq", "kind", "channel", "delivery",
          "target", "mention", "format", "life_day", "grace_s", "text", "notes")
EVENT_MINUTES = 15  # calendar apps show zero-length events badly; a message gets a short slot


def _iso_utc(dt: datetime) -> str:
    return dt.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def record(o: Occurrence) -> dict[str, object]:
    """One occurrence as plain JSON-able data."""
    return {"key": o.key, "local": o.local.isoformat(), "at_utc": _iso_utc(o.at_utc),
            "group": o.group, "slot": o.slot, "seq": o.seq, "kind": o.kind,
            "channel": o.channel, "delivery": o.delivery, "target": o.target,
            "mention": o.mention, "format": o.format, "life_day": o.life_day,
            "grace_s": o.grace_s, "text": o.text, "notes": list(o.notes),
            "attachments": list(o.attachments)}


def to_json(occs: Iterable[Occurrence]) -> str:
    return json.dumps([record(o) for o in occs], ensure_ascii=False, indent=2)


def to_csv(occs: Iterable[Occurrence]) -> str:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(FIELDS)
    for o in occs:
        r = record(o)
        r["notes"] = "; ".join(o.notes)
        w.writerow([r[f] for f in FIELDS])
    return buf.getvalue()


# ----------------------------------------------------------------------------- iCalendar

def ics_escape(text: str) -> str:
    """TEXT value escaping (RFC 5545 3.3.11)."""
    return (text.replace("\\", "\\\\").replace(";", "\\;").replace(",", "\\,")
            .replace("\r\n", "\\n").replace("\n", "\\n").replace("\r", "\\n"))


def ics_fold(line: str) -> str:
    """Fold a content line at 75 octets (RFC 5545 3.1), never inside a UTF-8 character;
    continuation lines start with one space, which counts towards their 75."""
    raw = line.encode()
    if len(raw) <= 75:
        return line
    parts: list[str] = []
    limit, cur, size = 75, [], 0
    for ch in line:
        n = len(ch.encode())
        if size + n > limit:
            parts.append("".join(cur))
            cur, size, limit = [], 0, 74
        cur.append(ch)
        size += n
    parts.append("".join(cur))
    return "\r\n ".join(parts)


def _stamp(dt: datetime) -> str:
    return dt.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")


def to_ics(occs: Iterable[Occurrence], *, calendar_name: str,
           group_names: dict[str, str] | None = None, now: datetime | None = None) -> str:
    """A VCALENDAR with one VEVENT per occurrence: UID = the occurrence key, times in UTC,
    CRLF line endings."""
    names = group_names or {}
    stamp = _stamp(now or datetime.now(UTC))
    lines = ["BEGIN:VCALENDAR", "VERSION:2.0", "PRODID:-//sopctl//agenda//EN",
             "CALSCALE:GREGORIAN", "METHOD:PUBLISH", f"X-WR-CALNAME:{ics_escape(calendar_name)}"]
    for o in occs:
        preview = o.text.splitlines()[0] if o.text.strip() else ""
        summary = f"{names.get(o.group, o.group)} · {o.kind}"
        if preview:
            summary += f": {preview[:60]}"
        desc = [o.text, "", f"group: {o.group}  slot: {o.slot}  channel: {o.channel}"
                f"  delivery: {o.delivery}", f"local: {o.local:%Y-%m-%d %H:%M %Z}"]
        desc += list(o.notes)
        lines += ["BEGIN:VEVENT", f"UID:{ics_escape(o.key)}", f"DTSTAMP:{stamp}",
                  f"DTSTART:{_stamp(o.at_utc)}",
                  f"DTEND:{_stamp(o.at_utc + timedelta(minutes=EVENT_MINUTES))}",
                  f"SUMMARY:{ics_escape(summary)}",
                  f"DESCRIPTION:{ics_escape(chr(10).join(desc))}",
                  f"CATEGORIES:{ics_escape(o.kind)}", "TRANSP:TRANSPARENT", "END:VEVENT"]
    lines.append("END:VCALENDAR")
    return "".join(ics_fold(line) + "\r\n" for line in lines)
