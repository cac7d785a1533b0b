"""A Feishu post goes out exactly on the hour or half hour.

Feishu throttles custom bots hardest at :00 and :30, when everyone's scheduled
messages fire at once (its documentation asks senders to avoid them). Move Feishu
slots a few minutes off, e.g. 19:32.

Bad::

    channels:
      feishu: {type: feishu, token: "${FEISHU_TOKEN}"}
    channel: feishu
    timetable:
      - {id: lesson, kind: course, at: "19:30", text: 今晚课程}

Good::

    channels:
      feishu: {type: feishu, token: "${FEISHU_TOKEN}"}
    channel: feishu
    timetable:
      - {id: lesson, kind: course, at: "19:32", text: 今晚课程}
"""

from __future__ import annotations

from collections.abc import Iterator

from ...i18n import _
from ..context import Context, Issue
from ._shared import platforms_of_channel, schedule

CODE = "SOP211"
SLUG = "feishu-hot-minute"
SEVERITY = "warning"


def check(ctx: Context) -> Iterator[Issue]:
    pb = ctx.playbook
    for p in schedule(ctx).plans:
        hot = [m for m in p.starts if m % 30 == 0]
        if not hot:
            continue
        slot = pb.timetable[p.index]
        if slot.target != "group" or "feishu" not in platforms_of_channel(ctx, slot.channel):
            continue
        m = hot[0]
        yield Issue(("timetable", p.index, "cron" if slot.cron is not None else "at"),
                    _("Feishu slot '{slot}' fires at {time}, Feishu's throttling hot "
                      "spot").format(slot=slot.id, time=f"{m // 60:02d}:{m % 60:02d}"),
                    hint=_("move it off :00/:30, e.g. {time}").format(
                        time=f"{m // 60:02d}:{m % 60 + 2:02d}"))
