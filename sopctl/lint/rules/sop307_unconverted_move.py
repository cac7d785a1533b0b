"""A stage sets ``convert_days`` but not where the non-converted go.

Members who don't convert within ``convert_days`` should move somewhere: the SOP
sends them to a sales group for a second round. Without ``otherwise`` the deadline
does nothing and they stay in the group indefinitely.

Bad::

    funnel:
      stages:
        - {id: pond, convert_days: 14}
        - {id: sales}

Good::

    funnel:
      stages:
        - {id: pond, convert_days: 14, otherwise: sales}
        - {id: sales}
"""

from __future__ import annotations

from collections.abc import Iterator

from ...i18n import _
from ..context import Context, Issue

CODE = "SOP307"
SLUG = "unconverted-move"
SEVERITY = "warning"


def check(ctx: Context) -> Iterator[Issue]:
    f = ctx.playbook.funnel
    if f is None:
        return
    for i, st in enumerate(f.stages):
        if st.convert_days is not None and st.otherwise is None:
            yield Issue(("funnel", "stages", i, "convert_days"),
                        _("stage '{stage}' gives {days} days to convert but says nothing "
                          "about who doesn't").format(stage=st.id, days=st.convert_days),
                        hint=_("add `otherwise: <stage id>`"))
