"""Red packets go out more often than every two days.

Red packets and 晒单 rewards work when they are a small, regular surprise: every
2–3 days. Daily red packets train members to wait for money and cost the budget of
a real promotion.

Bad::

    timetable:
      - {id: share, kind: red-packet, at: "13:00-16:00", text: 晒单领红包}

Good::

    timetable:
      - {id: share, kind: red-packet, at: "13:00-16:00", every_days: 2, text: 晒单领红包}
"""

from __future__ import annotations

from collections.abc import Iterator

from ...i18n import _
from ..context import Context, Issue
from ._shared import block_mask, schedule

CODE = "SOP208"
SLUG = "red-packet-frequency"
SEVERITY = "warning"

KINDS = frozenset({"red-packet", "red_packet", "redpacket", "红包"})


def check(ctx: Context) -> Iterator[Issue]:
    pb = ctx.playbook
    sched = schedule(ctx)
    # a day and the next one in the same nominal opening, never across two openings
    inner = block_mask(sched, sched.horizon - 1)
    union = 0
    for p in sched.plans:
        slot = pb.timetable[p.index]
        if slot.kind not in KINDS or slot.target == "moments" or not p.mask:
            continue
        twice = p.fires > max(1, len(slot.sequence))
        near = ((p.mask & inner & ((p.mask | union) >> 1)) or (p.mask & union)
                or (p.mask & ((union & inner) << 1)))
        if twice or near:
            where = "cron" if slot.cron is not None else (
                "every_days" if slot.every_days is not None else "days")
            yield Issue(("timetable", p.index, where if where != "days" else "at"),
                        _("red packets ('{slot}') go out more often than every 2 days").format(
                            slot=slot.id),
                        hint=_("every_days: 2 or 3, as the SOP says"))
        union |= p.mask
