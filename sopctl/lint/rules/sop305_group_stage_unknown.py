"""A group's ``stage`` is not a stage of the funnel.

Each group of the inventory belongs to one funnel stage (pond, transit, core...);
its effort share, its promotion invitations and the simulation depend on it.

Bad::

    funnel:
      stages: [{id: pond}, {id: transit}, {id: core}]
    groups:
      - {id: g001, stage: fishpond, opened: 2026-11-02}

Good::

    funnel:
      stages: [{id: pond}, {id: transit}, {id: core}]
    groups:
      - {id: g001, stage: pond, opened: 2026-11-02}
"""

from __future__ import annotations

import difflib
from collections.abc import Iterator

from ...i18n import _
from ..context import Context, Issue

CODE = "SOP305"
SLUG = "group-stage-unknown"
SEVERITY = "error"


def check(ctx: Context) -> Iterator[Issue]:
    f = ctx.playbook.funnel
    ids = [st.id for st in f.stages] if f is not None else []
    known = set(ids)
    for i, g in enumerate(ctx.groups):
        if g.stage is not None and g.stage not in known:
            close = difflib.get_close_matches(g.stage, ids, n=1)
            msg = (_("group '{group}': unknown stage '{stage}'; did you mean '{close}'?")
                   if close else _("group '{group}': unknown stage '{stage}'"))
            yield Issue(("groups", i, "stage"),
                        msg.format(group=g.id, stage=g.stage, close=close[0] if close else ""),
                        hint=None if ids else _("define the stages under funnel.stages"))
