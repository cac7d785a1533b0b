"""A reference to a content item, channel or group that does not exist.

Slots, sequence messages, welcome attachments, auto-replies and course lessons name
items of ``content:``; slots, groups, the welcome, reminders and the top-level
``channel`` name entries of ``channels:``; the owner, experts, sub-owners and admins
under ``roles:`` name the groups they run. A dangling name fails at send time (or
leaves a group without the person meant to run it), so it is caught here. Course
lessons that look like ids (``lesson-03``) are taken as references.

Bad::

    content:
      lesson01: 第1课 认识你的肤质
    timetable:
      - {id: lesson, kind: course, at: "19:30", content: lesson1}

Good::

    content:
      lesson01: 第1课 认识你的肤质
    timetable:
      - {id: lesson, kind: course, at: "19:30", content: lesson01}
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterator

from ...i18n import _
from ..context import Context, Issue

CODE = "SOP401"
SLUG = "missing-reference"
SEVERITY = "error"

_ID_LIKE = re.compile(r"^[A-Za-z][A-Za-z0-9_.-]*$")


def _refs(ctx: Context) -> Iterator[tuple[str, tuple, str | None]]:
    pb = ctx.playbook
    yield "channel", ("channel",), pb.channel
    for name, ch in pb.channels.items():
        yield "channel", ("channels", name, "remind"), ch.remind
    w = pb.welcome
    if w is not None:
        yield "channel", ("welcome", "channel"), w.channel
        if w.attachment is not None:
            yield "content", ("welcome", "attachment", "content"), w.attachment.content
    for i, s in enumerate(pb.timetable):
        yield "content", ("timetable", i, "content"), s.content
        yield "channel", ("timetable", i, "channel"), s.channel
        for j, m in enumerate(s.sequence):
            yield "content", ("timetable", i, "sequence", j, "content"), m.content
        for j, item in enumerate(s.course):
            if _ID_LIKE.match(item):
                yield "content", ("timetable", i, "course", j), item
    for i, a in enumerate(pb.auto_replies):
        yield "content", ("auto_replies", i, "content"), a.content
    for i, g in enumerate(ctx.groups):
        yield "channel", ("groups", i, "channel"), g.channel
    if isinstance(pb.groups, list):  # an inventory file that failed to load is reported
        roles = pb.roles
        people = [("owner", None, roles.owner)] if roles.owner else []
        for section in ("experts", "sub_owners", "admins"):
            people += [(section, i, p) for i, p in enumerate(getattr(roles, section))]
        for section, i, person in people:
            base = ("roles", section) if i is None else ("roles", section, i)
            for j, gid in enumerate(person.groups):
                yield "group", (*base, "groups", j), gid


def check(ctx: Context) -> Iterator[Issue]:
    pb = ctx.playbook
    tables = {"content": pb.content, "channel": pb.channels,
              "group": {g.id: g for g in ctx.groups}}
    for kind, loc, name in _refs(ctx):
        if name is None or name in tables[kind]:
            continue
        known = list(tables[kind])
        close = difflib.get_close_matches(name, known, n=1)
        section = {"content": "content", "channel": "channels", "group": "groups"}[kind]
        if kind == "group":
            msg = (_("no group '{name}' in the inventory; did you mean '{close}'?") if close
                   else _("no group '{name}' in the inventory"))
        elif kind == "content":
            msg = (_("no content '{name}' in `content:`; did you mean '{close}'?") if close
                   else _("no content '{name}' in `content:`"))
        else:
            msg = (_("no channel '{name}' in `channels:`; did you mean '{close}'?") if close
                   else _("no channel '{name}' in `channels:`"))
        yield Issue(loc, msg.format(name=name, close=close[0] if close else ""),
                    hint=None if close else _("define it under `{section}:`").format(
                        section=section))
