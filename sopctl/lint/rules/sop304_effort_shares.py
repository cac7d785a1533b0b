"""The stages' effort shares do not add up to 100 %.

The SOP splits the team's effort pond / transit / core = 15 / 20 / 65 %. When some
stages give an ``effort``, the shares must add up to 100, or the simulated staff
time is wrong.

Bad::

    funnel:
      stages:
        - {id: pond, effort: 15}
        - {id: transit, effort: 20}
        - {id: core, effort: 56}

Good::

    funnel:
      stages:
        - {id: pond, effort: 15}
        - {id: transit, effort: 20}
        - {id: core, effort: 65}
"""

from __future__ import annotations

from collections.abc import Iterator

from ...i18n import _
from ..context import Context, Issue

CODE = "SOP304"
SLUG = "effort-shares"
SEVERITY = "warning"


def check(ctx: Context) -> Iterator[Issue]:
    f = ctx.playbook.funnel
    if f is None or all(st.effort is None for st in f.stages):
        return
    total = sum(st.effort or 0 for st in f.stages)
    if abs(total - 100) > 0.5:
        missing = [st.id for st in f.stages if st.effort is None]
        msg = (_("effort shares add up to {total} %, not 100 % (no effort on {stages})")
               if missing else _("effort shares add up to {total} %, not 100 %"))
        yield Issue(("funnel", "stages"),
                    msg.format(total=f"{total:g}", stages=", ".join(missing)), key=True,
                    hint=_("the SOP's split is 15 / 20 / 65"))
