"""The plan: a playbook and its groups turned into concrete occurrences in time.

Names are loaded on first use, so `lint` (which needs only plan.calendar) stays light.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .build import (
        PlanResult,
        build_plan,
        build_plan_detailed,
        group_channel,
        iter_plan,
        next_group,
        next_occurrence_after,
    )
    from .types import Occurrence

__all__ = ["Occurrence", "PlanResult", "build_plan", "build_plan_detailed", "group_channel",
           "iter_plan", "next_group", "next_occurrence_after"]


def __getattr__(name: str) -> Any:
    if name == "Occurrence":
        from .types import Occurrence

        return Occurrence
    if name in __all__:
        from . import build

        return getattr(build, name)
    raise AttributeError(f"module 'sopctl.plan' has no attribute {name!r}")
