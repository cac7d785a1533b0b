"""A text cannot be rendered: an unknown name, a Python expression, or an empty part.

Every text sopctl sends is a template of the one template language (docs/plan.md):
``{name}``, ``{name:03}``-style padding, and ``{{`` / ``}}`` for literal braces. The
names a text may use depend on where it stands: a slot has ``{group_name}``, ``{day}``,
``{date}`` but no ``{nickname}``; a welcome has ``{nickname}``, ``{newcomers}`` and the
four parts; an auto-reply ``{nickname}`` and ``{group_name}``; ``warn_text`` and
``remove_text`` ``{nickname}``, ``{rule}``, ``{count}``; an invitation ``{stage}``; a
name pattern only ``{n}``. Names under ``variables:`` are usable in every text.

Attribute access (``{group_name.__class__}``), indexing (``{a[0]}``), conversions
(``{a!r}``), other format specs, ``{{group_name}}`` (a Jinja habit: it would send the
braces) and a welcome template using a part the playbook leaves empty are errors too.
The runner refuses such a text (recorded failed with the reason); it never sends it
half-filled. Each finding points at the placeholder's own line and column.

Bad::

    welcome:
      template: "欢迎 {nick_name} 加入 {{group_name}}! 群内禁止: {prohibited}"

Good::

    welcome:
      template: "欢迎 {nickname} 加入 {group_name}! 群内禁止: {prohibited}"
      prohibited: 广告、外链
"""

from __future__ import annotations

from collections.abc import Iterator

from ...i18n import _
from ..context import Context, Issue

CODE = "SOP103"
SLUG = "unknown-variable"
SEVERITY = "error"


def _content_texts(item) -> list[tuple[tuple, str]]:  # type: ignore[no-untyped-def]
    """The texts a content item can render: its text and variants, else its fallback."""
    out = ([(("text",), item.text)] if item.text else []) + [
        (("variants", j), v) for j, v in enumerate(item.variants)]
    if not out:
        for name in ("title", "url", "description"):
            value = getattr(item, name)
            if value:
                return [((name,), value)]
    return out


def _texts(ctx: Context) -> Iterator[tuple[tuple, str | None, str]]:
    """(location, text, scope) of every rendered text."""
    pb = ctx.playbook
    yield ("positioning", "name_pattern"), pb.positioning.name_pattern, "name_pattern"
    w = pb.welcome
    if w is not None:
        yield ("welcome", "template"), w.template, "welcome"
        for name in ("theme", "services", "prohibited", "penalty", "rewarded", "reward"):
            yield ("welcome", name), getattr(w, name), "welcome-part"
    for name in ("warn_text", "remove_text"):
        yield ("rules", name), getattr(pb.rules, name), "ladder"
    for i, r in enumerate(pb.rules.items):
        yield ("rules", "items", i, "text"), r.text, "rule"
    scopes: dict[str, set[str]] = {}  # content item -> scopes it is rendered in
    for i, s in enumerate(pb.timetable):
        yield ("timetable", i, "text"), s.text, "slot"
        for j, m in enumerate(s.sequence):
            yield ("timetable", i, "sequence", j, "text"), m.text, "slot"
        for ref in [s.content, *(m.content for m in s.sequence), *s.course]:
            if ref:
                scopes.setdefault(ref, set()).add("slot")
        for j, item in enumerate(s.course):
            if item not in pb.content:
                yield ("timetable", i, "course", j), item, "slot"
    for i, a in enumerate(pb.auto_replies):
        yield ("auto_replies", i, "reply"), a.reply, "reply"
        if a.content:
            scopes.setdefault(a.content, set()).add("reply")
    for key, c in pb.content.items():
        for sub, text in _content_texts(c):
            for scope in sorted(scopes.get(key) or {"slot"}):
                yield ("content", key, *sub), text, scope
    if pb.funnel is not None:
        for i, st in enumerate(pb.funnel.stages):
            yield ("funnel", "stages", i, "invite"), st.invite, "invite"


def check(ctx: Context) -> Iterator[Issue]:
    from ...plan.render import SCOPES, WELCOME_PARTS, scope_names
    from ...plan.template import problems, simple_names

    pb = ctx.playbook
    w = pb.welcome
    empty = [p for p in WELCOME_PARTS if w is not None and not getattr(w, p)]
    names = {scope: scope_names(pb, scope) for scope in SCOPES}
    seen: set[tuple] = set()
    for loc, text, scope in _texts(ctx):
        if not text or ("{" not in text and "}" not in text):
            continue
        simple = simple_names(text)  # no Template built for plain {name} texts
        if simple is not None and not (scope == "welcome" and empty) and names[
                scope].issuperset(simple):
            continue
        found = problems(text, names[scope], where=_(SCOPES[scope][0]),
                         empty=empty if scope == "welcome" else (),
                         variables=scope != "name_pattern")
        for p in found:
            key = (loc, p.start, p.kind)
            if key in seen:  # a content item rendered in two places: once per problem
                continue
            seen.add(key)
            yield Issue(loc, p.message, hint=p.hint, span=(text, p.start, p.end))
