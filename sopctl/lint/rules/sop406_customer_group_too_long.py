"""A text is longer than a WeCom customer-group mass message takes: it is refused.

A ``wecom-customer-group`` channel posts through ``add_msg_template``, whose text takes
at most 4000 bytes of UTF-8 (about 1,330 Chinese characters), and each customer group
receives about one mass message a day. Splitting a long text would spend several days'
messages on one text, so sopctl refuses it instead: the runner records it ``failed``
and nothing reaches the group. Measured on the text rendered with typical variable
values.

Bad::

    channels:
      customers: {type: wecom-customer-group, corp_id: ww01, corp_secret: "${S}", sender: zs}
    timetable:
      - {id: lesson, kind: course, at: "19:30", channel: customers, content: lesson01}
    content:
      lesson01: "第1课 ……(一篇 2000 字的长文)……"

Good::

    channels:
      customers: {type: wecom-customer-group, corp_id: ww01, corp_secret: "${S}", sender: zs}
    timetable:
      - {id: lesson, kind: course, at: "19:30", channel: customers, content: lesson01}
    content:
      lesson01: {kind: link, title: 第1课 认识你的肤质, url: "https://example.com/l1"}
"""

from __future__ import annotations

from collections.abc import Iterator

from ...i18n import _
from ..context import Context, Issue
from ._shared import platforms_of_channel
from .sop402_message_too_long import _messages, _values

CODE = "SOP406"
SLUG = "customer-group-too-long"
SEVERITY = "error"

TEXT_BYTES = 4000  # add_msg_template text.content; the channel refuses the same


def check(ctx: Context) -> Iterator[Issue]:
    from ...plan.render import render
    from ...plan.template import TemplateError

    values = _values(ctx)
    widest = max((len(str(v).encode()) for v in values.values()), default=0)
    seen: set[tuple] = set()
    for loc, text, _fmt, channel in _messages(ctx):
        if loc in seen or "wecom-customer-group" not in platforms_of_channel(ctx, channel):
            continue
        seen.add(loc)
        if len(text.encode()) + text.count("{") * widest <= TEXT_BYTES:
            continue  # under the limit, whatever its variables expand to
        try:
            size = len(render(text, values).encode())
        except TemplateError:  # SOP103 reports it; such a text is never sent
            continue
        if size > TEXT_BYTES:
            yield Issue(loc, _("text is {size} bytes; a WeCom customer-group mass message takes "
                               "at most {limit} and is not split (one a day per group): "
                               "the runner refuses it").format(size=size, limit=TEXT_BYTES),
                        hint=_("shorten it, or send a link or an image instead"))
