"""``next`` or ``otherwise`` names a stage that does not exist.

Members promoted (or moved on after ``convert_days``) to an unknown stage land
nowhere. Use the ``id`` of a stage of ``funnel.stages``.

Bad::

    funnel:
      stages:
        - {id: pond, convert_days: 14, otherwise: sale}
        - {id: sales}

Good::

    funnel:
      stages:
        - {id: pond, convert_days: 14, otherwise: sales}
        - {id: sales}
"""

from __future__ import annotations

import difflib
from collections.abc import Iterator

from ...i18n import _
from ..context import Context, Issue

CODE = "SOP303"
SLUG = "unknown-stage"
SEVERITY = "error"


def check(ctx: Context) -> Iterator[Issue]:
    f = ctx.playbook.funnel
    if f is None:
        return
    ids = [st.id for st in f.stages]
    for i, st in enumerate(f.stages):
        for name in ("next", "otherwise"):
            target = getattr(st, name)
            if target is not None and target not in ids:
                close = difflib.get_close_matches(target, ids, n=1)
                msg = (_("unknown stage '{stage}'; did you mean '{close}'?") if close
                       else _("unknown stage '{stage}'"))
                yield Issue(("funnel", "stages", i, name),
                            msg.format(stage=target, close=close[0] if close else ""),
                            hint=None if close else _("stages: {ids}").format(
                                ids=", ".join(ids)))
