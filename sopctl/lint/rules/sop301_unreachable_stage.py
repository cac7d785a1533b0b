"""A funnel stage no member can ever reach.

Members enter the funnel at its first stage and move on by ``next`` (by default, the
following stage) or, when they don't convert in time, by ``otherwise``. A stage that
no path leads to never fills; usually a ``next`` skips it by mistake.

Bad::

    funnel:
      stages:
        - {id: pond, next: core}
        - {id: transit, entry: product}
        - {id: core, entry: spend}

Good::

    funnel:
      stages:
        - {id: pond}
        - {id: transit, entry: product}
        - {id: core, entry: spend}
"""

from __future__ import annotations

from collections.abc import Iterator

from ...i18n import _
from ..context import Context, Issue
from ._shared import funnel_edges

CODE = "SOP301"
SLUG = "unreachable-stage"
SEVERITY = "warning"


def check(ctx: Context) -> Iterator[Issue]:
    f = ctx.playbook.funnel
    if f is None:
        return
    edges = funnel_edges(ctx)
    seen = {f.stages[0].id}
    todo = [f.stages[0].id]
    while todo:
        for _kind, target in edges.get(todo.pop(), ()):
            if target not in seen:
                seen.add(target)
                todo.append(target)
    for i, st in enumerate(f.stages):
        if st.id not in seen:
            yield Issue(("funnel", "stages", i, "id"),
                        _("stage '{stage}' cannot be reached from '{first}'").format(
                            stage=st.id, first=f.stages[0].id),
                        hint=_("point a `next` or `otherwise` at it"))
