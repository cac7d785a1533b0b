"""An unquoted value that YAML 1.1 tools read differently.

sopctl reads YAML 1.2, where ``7:30`` is the text "7:30" and ``no`` is the word
"no". Most other YAML tools (PyYAML, many editors and converters) still follow
YAML 1.1 and read ``7:30`` as the number 450 (sexagesimal) and ``no``, ``off``,
``on``, ``yes`` as booleans. Quote such values so every tool agrees.

Every YAML reader takes an unquoted ``0520``, ``1e3`` or ``true`` for a number or a
boolean. In a text (``variables:``, a slot's ``text``, a keyword) sopctl keeps and sends
what was typed — ``0520``, not ``520.0`` — but other tools will not, so it is reported
too; in a number field (a group's ``number: 007``) the leading zeros are lost.

Bad::

    timetable:
      - {id: morning, kind: good-morning, at: 7:30, text: 早上好}

Good::

    timetable:
      - {id: morning, kind: good-morning, at: "07:30", text: 早上好}
"""

from __future__ import annotations

from collections.abc import Iterator

from ...i18n import _
from ..context import Context, Issue

CODE = "SOP016"
SLUG = "yaml11-scalar"
SEVERITY = "warning"

_TRUE = {"yes", "on", "y"}


def _yaml11_value(raw: str) -> str:
    low = raw.lower()
    if low in _TRUE:
        return "true"
    if low in ("no", "off", "n"):
        return "false"
    sign = -1 if raw.startswith("-") else 1
    total = 0.0
    for part in raw.lstrip("+-").replace("_", "").split(":"):
        total = total * 60 + float(part or 0)
    value = sign * total
    return str(int(value)) if value == int(value) else str(value)


def _number_text(raw: str) -> str:
    if raw.lower() in ("true", "false"):
        return raw.lower()
    value = float(raw)
    return str(int(value)) if value.is_integer() and abs(value) < 1e16 else repr(value)


def check(ctx: Context) -> Iterator[Issue]:
    import re

    from ...playbook.loader import is_text_path

    inv = ctx.loaded.groups_source
    for smap in (ctx.source, inv) if inv is not None else (ctx.source,):
        for loc, raw in smap.typed.items():
            if is_text_path(loc):
                msg = _("unquoted {raw} is {value} to YAML tools; sopctl sends the text as "
                        "typed, other tools would not")
            elif re.match(r"[-+]?0[0-9]", raw):
                msg = _("unquoted {raw} is the number {value}: its leading zeros are lost")
            else:
                continue
            yield Issue(loc, msg.format(raw=raw, value=_number_text(raw)),
                        hint=_('quote it: "{raw}"').format(raw=raw))
        for loc, raw in smap.yaml11.items():
            if smap is inv and loc[:1] != ("groups",):  # a bare-list inventory file
                loc = ("groups", *loc)
            yield Issue(loc, _("unquoted {raw} is read as {value} by YAML 1.1 tools").format(
                raw=raw, value=_yaml11_value(raw)), hint=_('quote it: "{raw}"').format(raw=raw))
