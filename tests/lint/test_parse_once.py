"""Parse once, in lint too: the rules read the model's typed values (``Slot.window``,
``Slot.life``, ``QuietHours.span``, ``Phase.span``, ...) and parse no playbook text."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from sopctl.lint.config import LintConfig
from sopctl.lint.engine import lint_loaded
from sopctl.playbook import model, timeparse
from sopctl.playbook.loader import load_playbook

ROOT = Path(__file__).resolve().parents[2]
RULES = ROOT / "sopctl" / "lint" / "rules"
PARSERS = (timeparse.parse_clock, timeparse.parse_window, timeparse.parse_duration,
           timeparse.parse_duration_range, timeparse.parse_weekday, timeparse.parse_day_range,
           model.cron_spec, model._weekday_set)
PLAYBOOKS = [p for folder in ("playbooks", "examples")
             for p in sorted((ROOT / folder).glob("*.yaml")) if not p.name.endswith("-groups.yaml")]
ENV = {"WECOM_ROBOT_KEY": "k", "FEISHU_HOOK_TOKEN": "t", "LANG": "C.UTF-8"}


# every time language a rule looks at, in one playbook
EVERY_TIME_FIELD = """\
version: 1
name: 时间
timezone: Asia/Shanghai
positioning: {type: product, purpose: 测试, name_pattern: "测试群{n}", planned_days: 5}
quiet_hours: {start: "22:00", end: "07:00"}
timetable:
  - {id: morning, kind: good-morning, at: "06:30-08:30", days: [mon, 周三, 4], text: 早上好}
  - {id: live, kind: event, cron: "0 23 1-7 * 5", text: 直播, quiet: drop, grace: 10m}
  - {id: course, kind: course, at: "12:00", life_days: "3-9",
     course: [一, 二, 三, 四, 五, 六, 七, 八]}
  - id: quiz
    kind: interaction
    at: "21:00"
    phases: [early]
    spacing: 20s-3m
    sequence: [{text: 题目}, {text: 提示, wait: 30s}, {text: 答案}]
funnel:
  stages: [{id: pond}]
  phases: [{name: early, days: 1-7}, {name: late, days: 9-}]
"""


def _calls() -> int:
    """Calls of the parsers so far (a memoized answer counts too)."""
    return sum(p.cache_info().hits + p.cache_info().misses for p in PARSERS)


@pytest.mark.parametrize("path", [None, *PLAYBOOKS], ids=lambda p: p.name if p else "every")
def test_a_second_lint_of_a_loaded_playbook_parses_nothing(path: Path | None,
                                                          tmp_path: Path) -> None:
    if path is None:
        path = tmp_path / "every.yaml"
        path.write_text(EVERY_TIME_FIELD, encoding="utf-8")
    loaded = load_playbook(str(path))
    if loaded.playbook is None:
        pytest.skip("an inventory or a file that does not load: no rules run")
    first = lint_loaded(loaded, LintConfig(), env=ENV)  # reads the typed values once
    before = _calls()
    again = lint_loaded(loaded, LintConfig(), env=ENV)
    assert again == first
    if path.name == "every.yaml":  # the time rules did look
        assert {"SOP203", "SOP205", "SOP210", "SOP306"} <= {f.code for f in first}
    assert _calls() == before, "a rule parsed playbook text instead of reading the model"


def test_some_playbooks_exercise_the_time_rules() -> None:
    """The test above means something only if its playbooks use the time languages."""
    texts = [p.read_text(encoding="utf-8") for p in PLAYBOOKS]
    for needle in ("quiet_hours", "phases", "life_days", "sequence", "cron", "spacing"):
        assert any(needle in t for t in texts), needle


@pytest.mark.parametrize("path", sorted(RULES.glob("*.py")), ids=lambda p: p.name)
def test_rules_do_not_import_the_text_parsers(path: Path) -> None:
    source = path.read_text(encoding="utf-8")
    assert not re.search(r"\btimeparse\b|\bparse_(clock|window|duration\w*|weekday|day_range|"
                         r"cron)\b", source), "read the model's typed values instead"


def test_an_open_phase_and_a_closed_one_from_the_same_day_overlap(tmp_path: Path) -> None:
    """Sorting (1, None) next to (1, 7) once raised TypeError: an internal error."""
    p = tmp_path / "pb.yaml"
    p.write_text("""\
version: 1
name: 阶段
timezone: Asia/Shanghai
positioning: {type: product, purpose: 测试, name_pattern: "测试群{n}"}
timetable:
  - {id: m, kind: good-morning, at: "07:30", text: 早上好}
funnel:
  stages: [{id: pond}]
  phases:
    - {name: all, days: "1-"}
    - {name: early, days: 1-7}
""", encoding="utf-8")
    found = [f for f in lint_loaded(load_playbook(str(p)), LintConfig(), env=ENV)
             if f.code == "SOP306"]
    assert [(f.line, f.message) for f in found] == [
        (10, "phase 'all' overlaps phase 'early'")]
