"""Two slots go out in the same minute, or one starts while another's sequence runs.

Messages that arrive together bury each other, and platform robots throttle bursts
(20 messages a minute on WeCom and DingTalk). Keep slots at least a minute apart,
and after a multi-message sequence leave room for all its messages.

Bad::

    timetable:
      - {id: knowledge, kind: knowledge, at: "11:00", text: 护肤小知识}
      - {id: offer, kind: offer, at: "11:00", text: 今日福利}

Good::

    timetable:
      - {id: knowledge, kind: knowledge, at: "11:00", text: 护肤小知识}
      - {id: offer, kind: offer, at: "11:10", text: 今日福利}
"""

from __future__ import annotations

from collections.abc import Iterator

from ...i18n import _
from ..context import Context, Issue
from ._shared import schedule

CODE = "SOP204"
SLUG = "slot-collision"
SEVERITY = "warning"


def check(ctx: Context) -> Iterator[Issue]:
    pb = ctx.playbook
    events = []
    for plan in schedule(ctx).plans:
        slot = pb.timetable[plan.index]
        if slot.target != "group" or slot.delivery == "remind" or not plan.mask:
            continue
        events.extend((m * 60, plan) for m in plan.starts)
    events.sort(key=lambda e: (e[0], e[1].index))
    active: list[tuple[int, int, object]] = []  # (busy until, start, plan)
    reported: set[int] = set()
    last = -1
    for start, plan in events:
        if start != last:  # expire once per distinct start, not per event
            active = [a for a in active if a[0] + 60 > start]
            last = start
        for _until, other_start, other in active:
            if other is plan or not (other.mask & plan.mask) or plan.index in reported:
                continue
            slot, first = pb.timetable[plan.index], pb.timetable[other.index]
            loc = ("timetable", plan.index, "cron" if slot.cron is not None else "at")
            reported.add(plan.index)
            hm = f"{start // 3600:02d}:{start // 60 % 60:02d}"
            if other_start == start:
                yield Issue(loc, _("slot '{slot}' at {time} collides with slot '{other}' in "
                                   "the same minute").format(slot=slot.id, time=hm,
                                                             other=first.id),
                            hint=_("move one of them by a few minutes"))
            else:
                yield Issue(loc, _("slot '{slot}' at {time} starts while the sequence of "
                                   "'{other}' is still running").format(
                    slot=slot.id, time=hm, other=first.id),
                            hint=_("leave at least a minute after the sequence's last message"))
            break
        active.append((start + plan.span, start, plan))
