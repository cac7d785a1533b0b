"""The funnel loops: following ``next``/``otherwise`` leads back to a stage.

A funnel moves members up (pond → transit → core) and sends the ones who don't
convert to a second-round sales group. A loop moves the same members around forever
and re-sends the same invitations. Remember that a stage without ``next`` moves on
to the following stage; write ``next: null`` on a final stage that is not last.

Bad::

    funnel:
      stages:
        - {id: pond}
        - {id: transit, convert_days: 14, otherwise: pond}
        - {id: core}

Good::

    funnel:
      stages:
        - {id: pond}
        - {id: transit, convert_days: 14, otherwise: sales}
        - {id: sales, next: core}
        - {id: core}
"""

from __future__ import annotations

from collections.abc import Iterator

from ...i18n import _
from ..context import Context, Issue
from ._shared import funnel_edges

CODE = "SOP302"
SLUG = "funnel-cycle"
SEVERITY = "warning"


def check(ctx: Context) -> Iterator[Issue]:
    f = ctx.playbook.funnel
    if f is None:
        return
    edges = funnel_edges(ctx)
    index = {st.id: i for i, st in enumerate(f.stages)}
    state: dict[str, int] = {}  # 1 on the path, 2 done
    reported: set[tuple[str, str]] = set()

    def visit(node: str, path: list[str]) -> Iterator[Issue]:
        state[node] = 1
        path.append(node)
        for kind, target in edges.get(node, ()):
            if target not in index:
                continue
            if state.get(target) == 1 and (node, target) not in reported:
                reported.add((node, target))
                loop = " → ".join([*path[path.index(target):], target])
                yield Issue(("funnel", "stages", index[node],
                             kind if kind in f.stages[index[node]].model_fields_set else "id"),
                            _("the funnel loops: {loop}").format(loop=loop),
                            hint=_("send non-converted members to a second-round stage "
                                   "instead"))
            elif target not in state:
                yield from visit(target, path)
        path.pop()
        state[node] = 2

    for st in f.stages:
        if st.id not in state:
            yield from visit(st.id, [])
