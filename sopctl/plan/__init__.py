"""The plan: a playbook and its groups turned into concrete occurrences in time."""

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
