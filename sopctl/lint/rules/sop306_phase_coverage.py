"""Lifecycle phases overlap or leave gaps.

A group's life runs early → middle → middle-late → late; every day belongs to
exactly one phase, so slots limited to a phase neither double up nor vanish. Phases
must start at day 1 and follow each other without overlap.

Bad::

    funnel:
      phases:
        - {name: early, days: 1-7}
        - {name: middle, days: 7-14}
        - {name: late, days: 20-}

Good::

    funnel:
      phases:
        - {name: early, days: 1-7}
        - {name: middle, days: 8-14}
        - {name: late, days: 15-}
"""

from __future__ import annotations

from collections.abc import Iterator

from ...i18n import _
from ..context import Context, Issue

CODE = "SOP306"
SLUG = "phase-coverage"
SEVERITY = "warning"


def check(ctx: Context) -> Iterator[Issue]:
    f = ctx.playbook.funnel
    if f is None or not f.phases:
        return
    # an open end ("15-") sorts after every closed one starting the same day
    spans = sorted(((*ph.span, i) for i, ph in enumerate(f.phases)),
                   key=lambda s: (s[0], s[1] is None, s[1] or 0, s[2]))
    expect: int | None = 1  # the first day not yet covered
    prev = None
    for lo, hi, i in spans:
        name = f.phases[i].name
        loc = ("funnel", "phases", i, "days")
        if expect is None or lo < expect:
            yield Issue(loc, _("phase '{phase}' overlaps phase '{other}'").format(
                phase=name, other=f.phases[prev].name) if prev is not None
                        else _("phase '{phase}' overlaps another phase").format(phase=name),
                        hint=_("each day belongs to one phase"))
        elif lo > expect:
            yield Issue(loc, _("days {first}-{last} belong to no phase (before "
                               "'{phase}')").format(first=expect, last=lo - 1, phase=name),
                        hint=_("start phases at day 1 and leave no gaps"))
        if hi is None:
            expect = None
        elif expect is not None:
            expect = max(expect, hi + 1)
        prev = i
