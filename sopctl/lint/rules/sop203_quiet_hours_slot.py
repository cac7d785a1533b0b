"""A slot with ``quiet: drop`` falls in quiet hours, so it is never sent.

Posts inside ``quiet_hours`` wake members up and get groups muted. With
``quiet: drop`` such a post is dropped every time it falls due: the text the timetable
promises never reaches the group. (With the default ``quiet: defer`` it is held until
quiet hours end instead: SOP215.)

Bad::

    quiet_hours: {start: "22:30", end: "07:00"}
    timetable:
      - {id: night, kind: knowledge, at: "23:00", text: 晚安小知识, quiet: drop}

Good::

    quiet_hours: {start: "22:30", end: "07:00"}
    timetable:
      - {id: night, kind: knowledge, at: "21:30", text: 晚安小知识, quiet: drop}
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

from ...i18n import _
from ..context import Context, Issue
from ._shared import _cached, schedule

if TYPE_CHECKING:
    from ...playbook.model import Slot

CODE = "SOP203"
SLUG = "quiet-hours-slot"
SEVERITY = "error"


def _fmt(m: int) -> str:
    return f"{m // 60 % 24:02d}:{m % 60:02d}"


def quiet_hits(ctx: Context) -> list[tuple[Slot, int, tuple]]:
    """(slot, first quiet minute, location) of every slot that can fall in quiet hours;
    computed once per lint run (SOP203 and SOP215 both ask)."""
    return _cached(ctx, "quiet_hits", lambda c: list(_quiet_hits(c)))


def _quiet_hits(ctx: Context) -> Iterator[tuple[Slot, int, tuple]]:
    pb = ctx.playbook
    q = pb.quiet_hours
    if q is None:
        return
    qs, qe = (t.hour * 60 + t.minute for t in q.span)
    if qs == qe:
        return

    spans = [(qs, qe)] if qs < qe else [(0, qe), (qs, 1440)]
    spans += [(c + 1440, d + 1440) for c, d in spans]

    def first_quiet(a: int, b: int) -> int | None:
        hits = [max(a, c) for c, d in spans if a < d and b >= c]
        return min(hits) if hits else None

    for plan in schedule(ctx).plans:
        slot = pb.timetable[plan.index]
        tail = (plan.span + 59) // 60
        ranges = [(m, m + tail) for m in plan.starts] or [(plan.window[0],
                                                          plan.window[1] + tail)]
        hit = next((h for a, b in ranges if (h := first_quiet(a, b)) is not None), None)
        if hit is None:
            continue
        yield slot, hit, ("timetable", plan.index, "cron" if slot.cron is not None else "at")


def check(ctx: Context) -> Iterator[Issue]:
    q = ctx.playbook.quiet_hours
    for slot, hit, loc in quiet_hits(ctx):
        if slot.quiet == "drop" and q is not None:
            yield Issue(loc, _("slot '{slot}' at {time} falls in quiet hours {start}-{end} "
                               "and is dropped (quiet: drop)").format(
                slot=slot.id, time=_fmt(hit), start=q.start, end=q.end),
                        hint=_("move it out of quiet hours"))
