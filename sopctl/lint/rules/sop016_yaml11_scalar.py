"""An unquoted value that YAML 1.1 tools read differently.

sopctl reads YAML 1.2, where ``7:30`` is the text "7:30" and ``no`` is the word
"no". Most other YAML tools (PyYAML, many editors and converters) still follow
YAML 1.1 and read ``7:30`` as the number 450 (sexagesimal) and ``no``, ``off``,
``on``, ``yes`` as booleans. Quote such values so every tool agrees.

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


def check(ctx: Context) -> Iterator[Issue]:
    inv = ctx.loaded.groups_source
    for smap in (ctx.source, inv) if inv is not None else (ctx.source,):
        for loc, raw in smap.yaml11.items():
            if smap is inv and loc[:1] != ("groups",):  # a bare-list inventory file
                loc = ("groups", *loc)
            yield Issue(loc, _("unquoted {raw} is read as {value} by YAML 1.1 tools").format(
                raw=raw, value=_yaml11_value(raw)), hint=_('quote it: "{raw}"').format(raw=raw))
