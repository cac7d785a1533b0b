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

from ..context import Context, Issue

CODE = "SOP306"
SLUG = "phase-coverage"
SEVERITY = "warning"


def check(ctx: Context) -> Iterator[Issue]:
    from ...playbook.timeparse import parse_day_range

    f = ctx.playbook.funnel
    if f is None or not f.phases:
        return
    spans = sorted((*parse_day_range(ph.days), i) for i, ph in enumerate(f.phases))
    expect: int | None = 1  # the first day not yet covered
    prev = None
    for lo, hi, i in spans:
        name = f.phases[i].name
        loc = ("funnel", "phases", i, "days")
        if expect is None or lo < expect:
            yield Issue(loc, f"phase '{name}' overlaps phase '{f.phases[prev].name}'"
                        if prev is not None else f"phase '{name}' overlaps another phase",
                        hint="each day belongs to one phase")
        elif lo > expect:
            yield Issue(loc, f"days {expect}-{lo - 1} belong to no phase (before '{name}')",
                        hint="start phases at day 1 and leave no gaps")
        if hi is None:
            expect = None
        elif expect is not None:
            expect = max(expect, hi + 1)
        prev = i
