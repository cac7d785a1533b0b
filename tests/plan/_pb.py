"""Small playbooks for plan tests, built in code so each test states what it relies on."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any

from sopctl.plan import PlanResult, build_plan_detailed
from sopctl.plan.timing import LocalClock
from sopctl.plan.types import Occurrence
from sopctl.playbook.model import Playbook


def make(timetable: list[dict[str, Any]], *, tz: str = "Asia/Shanghai",
         groups: list[dict[str, Any]] | None = None, **extra: Any) -> Playbook:
    data: dict[str, Any] = {
        "name": "测试剧本", "timezone": tz,
        "positioning": {"type": "product", "purpose": "测试", "name_pattern": "测试群{n:03}"},
        "channels": {"console": {"type": "console"}},
        "timetable": timetable,
        "groups": groups if groups is not None else [{"id": "g001", "opened": "2026-11-01"}],
    }
    data.update(extra)
    return Playbook.model_validate(data)


def window(pb: Playbook, first: date, days: int = 1) -> tuple[datetime, datetime]:
    """Local midnight of ``first`` to local midnight ``days`` later, as UTC instants."""
    clock = LocalClock(pb.timezone)
    return clock.day_start(first), clock.day_start(first + timedelta(days=days))


def plan(pb: Playbook, first: date, days: int = 1) -> list[Occurrence]:
    return detailed(pb, first, days).occurrences


def detailed(pb: Playbook, first: date, days: int = 1) -> PlanResult:
    start, end = window(pb, first, days)
    return build_plan_detailed(pb, start, end)


def utc(*args: int) -> datetime:
    from datetime import UTC

    return datetime(*args, tzinfo=UTC)
