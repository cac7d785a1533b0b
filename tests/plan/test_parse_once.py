"""Parse once: the model holds the time languages' typed values from loading on, and the
plan reads only those (no text parsed while planning)."""

from __future__ import annotations

import re
from datetime import date, time
from pathlib import Path

import pytest

from sopctl.playbook import model, timeparse

from ._pb import make, plan

PLAN = Path(__file__).resolve().parents[2] / "sopctl" / "plan"
PARSERS = (timeparse.parse_clock, timeparse.parse_window, timeparse.parse_duration,
           timeparse.parse_duration_range, timeparse.parse_weekday, timeparse.parse_day_range,
           model.cron_spec, model._weekday_set)


def _calls() -> int:
    """Calls of the parsers so far (a memoized answer counts too)."""
    return sum(p.cache_info().hits + p.cache_info().misses for p in PARSERS)


def _playbook():
    return make(
        [{"id": "morning", "kind": "good-morning", "at": "07:30-08:30", "days": ["mon", "周三", 4],
          "grace": "45m"},
         {"id": "live", "kind": "event", "cron": "0 20 1-7 * 5", "grace": 600},
         {"id": "course", "kind": "course", "at": "12:00", "life_days": "1-3",
          "course": ["第一课", "第二课", "第三课"]},
         {"id": "quiz", "kind": "interaction", "at": "21:00", "phases": ["early"],
          "spacing": "1-3m", "sequence": [{"text": "题目"}, {"text": "提示", "wait": "90s"},
                                          {"text": "答案"}]}],
        quiet_hours={"start": "22:00", "end": "07:00"},
        funnel={"stages": [{"id": "pond"}], "phases": [{"name": "early", "days": "1-7"},
                                                       {"name": "late", "days": "8-"}]},
        welcome={"template": "欢迎 {nickname}", "batch_window": "2m"},
        auto_replies=[{"keywords": ["价格"], "reply": "见群公告", "cooldown": 10}])


def test_the_model_holds_typed_values() -> None:
    pb = _playbook()
    morning, live, course, quiz = pb.timetable
    assert morning.window == (450, 510) and morning.weekdays == frozenset({0, 2, 4})
    assert morning.grace_s == 2700 and morning.cron_spec is None and morning.life is None
    assert live.window is None and live.grace_s == 36000  # a bare number counts minutes
    assert live.cron_spec is not None and live.cron_spec.times() == [(20, 0)]
    assert course.window == (720, 720) and course.life == (1, 3)
    assert quiz.spacing_s == (60, 180)
    assert [m.wait_s for m in quiz.sequence] == [None, 90, None]
    assert pb.quiet_hours.span == (time(22, 0), time(7, 0))
    assert [ph.span for ph in pb.funnel.phases] == [(1, 7), (8, None)]
    assert pb.welcome.batch_window_s == 120 and pb.auto_replies[0].cooldown_s == 600
    # the text as written stays, for messages and the schema
    assert morning.at == "07:30-08:30" and morning.days == ["mon", "周三", 4]


def test_planning_parses_nothing() -> None:
    pb = _playbook()
    plan(pb, date(2026, 11, 1), 14)  # the first read takes the typed values
    before = _calls()
    for first in (date(2026, 11, 1), date(2026, 11, 9), date(2027, 3, 1)):
        occs = plan(pb, first, 14)
    assert occs and _calls() == before


def test_a_copy_with_new_times_is_not_stale() -> None:
    slot = _playbook().timetable[0]
    assert slot.window == (450, 510)
    assert slot.model_copy(update={"at": "09:00"}).window == (540, 540)
    assert slot.model_copy().window == (450, 510)


@pytest.mark.parametrize("path", sorted(PLAN.glob("*.py")), ids=lambda p: p.name)
def test_the_plan_does_not_parse_playbook_text(path: Path) -> None:
    source = path.read_text(encoding="utf-8")
    assert not re.search(r"\btimeparse\b|\bparse_(clock|window|duration|weekday|day_range)\b",
                         source), "read the model's typed values (Slot.window, ...) instead"
