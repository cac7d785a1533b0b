"""On which local days, and at which local minutes, a timetable slot fires.

The calendar half of the plan, pure and dependency-free so `lint` can use it without
building occurrences: ``fires_on`` answers "does slot S run on day D of group G",
``slot_minutes`` answers "at which minutes of that day". It reads the model's typed
values (``Slot.window``, ``Slot.weekdays``, ...); nothing here parses playbook text.
"""

from __future__ import annotations

from datetime import date

from ..playbook.model import Funnel, Slot


def life_day(opened: date, local_date: date) -> int:
    """Day N of a group's life: the opening date is day 1."""
    return (local_date - opened).days + 1


def weekdays_of(slot: Slot) -> frozenset[int]:
    """Monday=0 weekdays the slot's ``days`` allows."""
    return slot.weekdays


def phase_of(funnel: Funnel | None, day: int) -> str | None:
    """The lifecycle phase a group is in on life day ``day`` (None if no phase covers it)."""
    if funnel is None:
        return None
    for ph in funnel.phases:
        lo, hi = ph.span
        if day >= lo and (hi is None or day <= hi):
            return ph.name
    return None


def fires_on(slot: Slot, local_date: date, opened: date, funnel: Funnel | None = None) -> bool:
    """Whether ``slot`` runs on ``local_date`` for a group opened on ``opened``."""
    if not slot.enabled:
        return False
    day = life_day(opened, local_date)
    if day < 1:
        return False
    if slot.dates and local_date not in slot.dates:
        return False
    life = slot.life
    if life is not None:
        lo, hi = life
        if day < lo or (hi is not None and day > hi):
            return False
    if slot.course and day > len(slot.course):
        return False  # lesson N on day N; the course is over
    if slot.phases and phase_of(funnel, day) not in slot.phases:
        return False
    if slot.every_days is not None and (day - 1) % slot.every_days != 0:
        return False
    cron = slot.cron_spec
    if cron is not None:
        return cron.matches_day(local_date)
    return local_date.weekday() in slot.weekdays


def stable_fraction(*parts: object) -> float:
    """A deterministic number in [0, 1) from the parts (same inputs, same number)."""
    import hashlib  # not at import: `lint` reads this module and never hashes

    h = hashlib.blake2b("\x1f".join(map(str, parts)).encode(), digest_size=8).digest()
    return int.from_bytes(h, "big") / 2**64


def slot_minutes(slot: Slot, group_id: str, local_date: date) -> list[int]:
    """Minutes after local midnight at which the slot's first message goes out that day.

    A window ("13:00-16:00") picks one minute inside it, stable per group, slot and
    day, so a plan is reproducible and groups spread over the window. Cron slots may
    fire several times a day.
    """
    cron = slot.cron_spec
    if cron is not None:
        return [h * 60 + m for h, m in cron.times()]
    window = slot.window
    assert window is not None
    lo, hi = window
    if hi == lo:
        return [lo]
    frac = stable_fraction(group_id, slot.id, local_date.isoformat())
    return [lo + int(frac * (hi - lo + 1))]


def sequence_offsets(slot: Slot, group_id: str, local_date: date) -> list[int]:
    """Seconds after the first message at which each message of the slot goes out.

    One message unless the slot has a ``sequence``; gaps come from each message's
    ``wait`` or else the slot's ``spacing`` range (a stable pick inside it).
    """
    n = max(1, len(slot.sequence))
    if n == 1:
        return [0]
    lo, hi = slot.spacing_s
    out, t = [0], 0
    for i, msg in enumerate(slot.sequence[1:], start=1):
        gap = msg.wait_s
        if gap is None:
            gap = lo + int(stable_fraction(group_id, slot.id, local_date.isoformat(), i)
                           * (hi - lo + 1)) if hi > lo else lo
        t += gap
        out.append(t)
    return out
