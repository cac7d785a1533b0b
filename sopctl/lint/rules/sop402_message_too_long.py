"""A message is longer than its platform accepts in one post.

Limits: WeCom text 2048 bytes of UTF-8 (a Chinese character is 3 bytes, so about
680 characters) and markdown 4096 bytes; Telegram 4096 characters; Discord 2000
characters; a Feishu request body 20 KB. A longer message is split into several
posts, which breaks formatting and counts against rate limits. Measured on the text
rendered with typical variable values.

Bad::

    timetable:
      - {id: lesson, kind: course, at: "19:30", content: lesson01}
    content:
      lesson01: "第1课 ……(一篇 800 字的长文)……"

Good::

    timetable:
      - {id: lesson, kind: course, at: "19:30", content: lesson01}
    content:
      lesson01: {kind: link, title: 第1课 认识你的肤质, url: "https://example.com/l1"}
"""

from __future__ import annotations

from collections.abc import Iterator

from ...i18n import _
from ..context import Context, Issue
from ._shared import platforms_of_channel

CODE = "SOP402"
SLUG = "message-too-long"
SEVERITY = "warning"


def _limit(platform: str, fmt: str) -> tuple[int, str] | None:
    if platform == "wecom":
        return (4096, "bytes") if fmt == "markdown" else (2048, "bytes")
    return {"telegram": (4096, "characters"), "discord": (2000, "characters"),
            "feishu": (20 * 1024 - 256, "bytes")}.get(platform)


def _values(ctx: Context) -> dict[str, object]:
    from ...plan.render import group_name

    pb = ctx.playbook
    w = pb.welcome
    names = [g.name for g in ctx.groups if g.name] or [group_name(
        pb.positioning.name_pattern, 1)]
    vals: dict[str, object] = {
        "nickname": "上海-美业-小美", "newcomers": "@小美 @阿杰 @Lily", "group_no": "001",
        "group_name": max(names, key=len), "n": 1, "day": 14, "lesson": 14,
        "date": "2026-11-18", "weekday": "周三", "stage": "核心群",
        "owner": pb.roles.owner.name if pb.roles.owner else "群主",
        "rules_summary": "\n".join(r.text for r in pb.rules.items),
        "offer": pb.variables.get("offer", ""),
    }
    for part in ("theme", "services", "prohibited", "penalty", "rewarded", "reward"):
        vals[part] = (getattr(w, part) or "") if w is not None else ""
    vals.update(pb.variables)
    return vals


def _messages(ctx: Context) -> Iterator[tuple[tuple, str, str, str | None]]:
    """(location, text, format, channel) of every message text that can be sent."""
    pb = ctx.playbook
    w = pb.welcome
    if w is not None:
        text = w.template or "\n".join(
            getattr(w, p) for p in ("theme", "services", "prohibited", "penalty", "rewarded",
                                    "reward") if getattr(w, p))
        yield ("welcome", "template") if w.template else ("welcome",), text, w.format, w.channel

    def content(loc: tuple, key: str, fmt: str, channel: str | None) -> Iterator:
        item = pb.content.get(key)
        if item is None:
            return
        fmt = "markdown" if item.kind == "markdown" else fmt
        if item.text:
            yield ("content", key, "text"), item.text, fmt, channel
        for j, v in enumerate(item.variants):
            yield ("content", key, "variants", j), v, fmt, channel

    for i, s in enumerate(pb.timetable):
        if s.text:
            yield ("timetable", i, "text"), s.text, s.format, s.channel
        if s.content:
            yield from content(("timetable", i, "content"), s.content, s.format, s.channel)
        for j, item in enumerate(s.course):
            if item in pb.content:
                yield from content(("timetable", i, "course", j), item, s.format, s.channel)
            else:
                yield ("timetable", i, "course", j), item, s.format, s.channel
        for j, m in enumerate(s.sequence):
            fmt = m.format or s.format
            if m.text:
                yield ("timetable", i, "sequence", j, "text"), m.text, fmt, s.channel
            if m.content:
                yield from content((), m.content, fmt, s.channel)
    for i, a in enumerate(pb.auto_replies):
        if a.reply:
            yield ("auto_replies", i, "reply"), a.reply, "text", None
        if a.content:
            yield from content((), a.content, "text", None)


def check(ctx: Context) -> Iterator[Issue]:
    from ...plan.render import render
    from ...plan.template import TemplateError

    values = _values(ctx)
    widest = max((len(str(v).encode()) for v in values.values()), default=0)
    seen: set[tuple] = set()
    for loc, text, fmt, channel in _messages(ctx):
        if loc in seen:
            continue
        seen.add(loc)
        if len(text) <= 480 and len(text.encode()) + text.count("{") * widest <= 1920:
            continue  # under every limit, whatever its variables expand to
        try:
            body = render(text, values)
        except TemplateError:  # SOP103 reports it; such a text is never sent
            continue
        for platform in sorted(platforms_of_channel(ctx, channel)):
            lim = _limit(platform, fmt)
            if lim is None:
                continue
            size = len(body.encode()) if lim[1] == "bytes" else len(body)
            if size > lim[0]:
                parts = -(-size // lim[0])
                msg = (_("message is {size} bytes on {platform} ({format}), over {limit}; it "
                         "will be split into {parts} posts") if lim[1] == "bytes" else
                       _("message is {size} characters on {platform} ({format}), over {limit}; "
                         "it will be split into {parts} posts"))
                yield Issue(loc, msg.format(size=size, platform=platform, format=fmt,
                                            limit=lim[0], parts=parts),
                            hint=_("shorten it, or send a link or an image instead"))
                break
