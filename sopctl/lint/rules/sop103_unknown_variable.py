"""A template uses a variable sopctl does not know, or has broken braces.

Texts may use ``{nickname}``, ``{group_name}``, ``{owner}``, ``{rules_summary}``,
``{offer}``, ``{day}``, ``{lesson}`` and the other built-in variables, plus any name
under ``variables:``. An unknown name is sent as written, braces and all; a lone
``{`` or ``}`` breaks the template (write ``{{`` and ``}}`` for literal braces).

Bad::

    welcome:
      template: 欢迎 {nick_name} 加入 {group_name}!

Good::

    welcome:
      template: 欢迎 {nickname} 加入 {group_name}!
"""

from __future__ import annotations

import difflib
from collections.abc import Iterator

from ...i18n import _
from ..context import Context, Issue

CODE = "SOP103"
SLUG = "unknown-variable"
SEVERITY = "error"


def _texts(ctx: Context) -> Iterator[tuple[tuple, str]]:
    pb = ctx.playbook
    w = pb.welcome
    if w is not None:
        for name in ("template", "theme", "services", "prohibited", "penalty", "rewarded",
                     "reward"):
            yield ("welcome", name), getattr(w, name)
    for name in ("warn_text", "remove_text"):
        yield ("rules", name), getattr(pb.rules, name)
    for i, r in enumerate(pb.rules.items):
        yield ("rules", "items", i, "text"), r.text
    for i, s in enumerate(pb.timetable):
        yield ("timetable", i, "text"), s.text
        for j, m in enumerate(s.sequence):
            yield ("timetable", i, "sequence", j, "text"), m.text
        for j, item in enumerate(s.course):
            if item not in pb.content:
                yield ("timetable", i, "course", j), item
    for key, c in pb.content.items():
        yield ("content", key, "text"), c.text
        for j, v in enumerate(c.variants):
            yield ("content", key, "variants", j), v
    for i, a in enumerate(pb.auto_replies):
        yield ("auto_replies", i, "reply"), a.reply
    if pb.funnel is not None:
        for i, st in enumerate(pb.funnel.stages):
            yield ("funnel", "stages", i, "invite"), st.invite


def check(ctx: Context) -> Iterator[Issue]:
    from ...plan.render import known_variables, template_variables

    known = known_variables(ctx.playbook)
    for loc, text in _texts(ctx):
        if not text or ("{" not in text and "}" not in text):
            continue
        try:
            names = template_variables(text)
        except ValueError as exc:
            yield Issue(loc, _("broken template: {error}").format(error=exc),
                        hint=_("write {{ and }} for literal braces"))
            continue
        for name in dict.fromkeys(names):
            if name in known:
                continue
            close = difflib.get_close_matches(name, known, n=1)
            msg = (_("unknown variable {{{name}}}; did you mean {{{close}}}?") if close
                   else _("unknown variable {{{name}}}"))
            yield Issue(loc, msg.format(name=name, close=close[0] if close else ""),
                        hint=None if close else _("define it under `variables:`"))
