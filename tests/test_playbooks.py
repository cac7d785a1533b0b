"""The shipped playbooks and examples: they load, lint clean, and say what the SOP says."""

from __future__ import annotations

import json
import re
from datetime import date, timedelta
from pathlib import Path

import pytest
from typer.testing import CliRunner

from sopctl.main import app
from sopctl.plan.calendar import fires_on, slot_minutes, weekdays_of
from sopctl.playbook.discover import is_inventory
from sopctl.playbook.loader import Loaded, load_playbook
from sopctl.playbook.model import Playbook, Slot
from sopctl.playbook.timeparse import parse_duration_range, parse_window

ROOT = Path(__file__).resolve().parents[1]
HEADER = "# yaml-language-server: $schema=../docs/playbook.schema.json"
ENV_RULE = "SOP404"
_ENV_REF = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")


PLAYBOOKS = sorted(p for p in (ROOT / "playbooks").glob("*.yaml") if not is_inventory(p))
EXAMPLES = sorted(p for p in (ROOT / "examples").glob("*.yaml") if not is_inventory(p))
ALL = PLAYBOOKS + EXAMPLES
SECRETS = sorted({m for p in ALL for m in _ENV_REF.findall(p.read_text(encoding="utf-8"))})


def _id(p: Path) -> str:
    return f"{p.parent.name}/{p.name}"


def _load(name: str) -> tuple[Loaded, Playbook]:
    loaded = load_playbook(str(ROOT / "playbooks" / name))
    assert loaded.playbook is not None, loaded.findings
    return loaded, loaded.playbook


def _lint_json(args: list[str], env: dict[str, str | None]) -> tuple[int, list[dict]]:
    result = CliRunner().invoke(app, ["lint", "--format", "json", *args], env=env)
    assert result.exception is None or isinstance(result.exception, SystemExit), result.output
    return result.exit_code, json.loads(result.stdout)


def _slot(pb: Playbook, slot_id: str) -> Slot:
    return next(s for s in pb.timetable if s.id == slot_id)


# ----------------------------------------------------------------------------- every file

def test_there_are_three_playbooks_and_many_examples() -> None:
    assert {p.name for p in PLAYBOOKS} >= {"skincare.yaml", "fruit.yaml", "knowledge.yaml"}
    assert len(EXAMPLES) >= 10


@pytest.mark.parametrize("path", ALL, ids=_id)
def test_starts_with_the_schema_line(path: Path) -> None:
    assert path.read_text(encoding="utf-8").splitlines()[0] == HEADER


@pytest.mark.parametrize("path", ALL, ids=_id)
def test_loads_without_errors(path: Path) -> None:
    loaded = load_playbook(str(path))
    assert loaded.playbook is not None
    assert [f for f in loaded.findings if f.severity == "error"] == []


@pytest.mark.parametrize("target", [["playbooks/"], [str(p) for p in EXAMPLES]],
                         ids=["playbooks", "examples"])
def test_lint_passes_without_secrets(target: list[str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(ROOT)
    code, findings = _lint_json(target, {name: None for name in SECRETS})
    assert code == 0
    others = [f for f in findings if f["code"] != ENV_RULE]
    assert others == [], "\n".join(f"{f['path']}:{f['line']}: {f['code']} {f['message']}"
                                   for f in others)
    assert all(f["severity"] == "warning" for f in findings)


def test_lint_is_strictly_clean_with_secrets(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(ROOT)
    env: dict[str, str | None] = {name: "x" for name in SECRETS}
    code, findings = _lint_json(["--strict", "playbooks/", *map(str, EXAMPLES)], env)
    assert (code, findings) == (0, [])


def test_missing_secret_is_reported_and_located(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(ROOT)
    _, findings = _lint_json(["playbooks/skincare.yaml"], {"WECOM_ROBOT_KEY": None})
    hits = [f for f in findings if f["code"] == ENV_RULE]
    assert len(hits) == 1 and "WECOM_ROBOT_KEY" in hits[0]["message"]
    line = (ROOT / "playbooks/skincare.yaml").read_text(encoding="utf-8").splitlines()[
        hits[0]["line"] - 1]
    assert "${WECOM_ROBOT_KEY}" in line


def test_examples_readme_lists_every_example() -> None:
    readme = (ROOT / "examples" / "README.md").read_text(encoding="utf-8")
    listed = set(re.findall(r"`([\w.-]+\.yaml)`", readme))
    assert listed == {p.name for p in EXAMPLES}


# ----------------------------------------------------------------------------- skincare

def test_skincare_positioning_and_welcome() -> None:
    _, pb = _load("skincare.yaml")
    pos = pb.positioning
    assert (pos.type, pos.connection, pos.capacity) == ("product", "pyramid", 200)
    assert pos.name_pattern == "美肌福利群{n:03}" and pos.threshold.kind == "free"
    w = pb.welcome
    assert w is not None and all([w.theme, w.services, w.prohibited, w.penalty, w.rewarded,
                                  w.reward])
    assert w.template is not None
    for part in ("{newcomers}", "{theme}", "{services}", "{prohibited}", "{penalty}",
                 "{rewarded}", "{reward}", "{offer}"):
        assert part in w.template
    assert w.attachment is not None and w.attachment.kind == "coupon"


def test_skincare_rules_follow_the_seed() -> None:
    _, pb = _load("skincare.yaml")
    r = pb.rules
    assert r.ladder == ["warn", "remove"] and r.blacklist
    assert r.nickname is not None and r.nickname.format == "城市-行业-昵称"
    assert r.nickname.regex and re.match(r.nickname.regex, "杭州-设计-小美")
    assert not re.match(r.nickname.regex, "小美")
    detects = [i.detect for i in r.items if i.detect]
    assert any(d.links for d in detects) and any(d.private_add for d in detects)
    assert any(d.flood for d in detects) and any(d.nickname for d in detects)


def test_skincare_course_is_lesson_n_on_day_n() -> None:
    _, pb = _load("skincare.yaml")
    course = _slot(pb, "course")
    assert course.at == "19:30" and len(course.course) == 14
    assert all(item in pb.content for item in course.course)
    for n, item in enumerate(course.course, 1):
        assert f"第{n}课" in (pb.content[item].text or "")
    opened = date(2026, 11, 2)
    days = [d for d in range(1, 31) if fires_on(course, opened + timedelta(d - 1), opened)]
    assert days == list(range(1, 15))
    assert pb.positioning.planned_days is not None and pb.positioning.planned_days > 14


def test_skincare_daily_timetable_matches_the_seed() -> None:
    _, pb = _load("skincare.yaml")
    assert parse_window(_slot(pb, "good-morning").at) == parse_window("07:30-08:30")
    assert _slot(pb, "check-in").at == "08:00"
    assert _slot(pb, "product-knowledge").at == "11:00"
    red = _slot(pb, "show-order-red-packet")
    assert red.at == "13:00-16:00" and red.every_days in (2, 3)
    assert _slot(pb, "behind-the-scenes").at == "17:00-18:00"
    assert 2 <= len(weekdays_of(_slot(pb, "voice-note"))) <= 3
    assert len(weekdays_of(_slot(pb, "weekly-vote"))) == 1
    quiz = _slot(pb, "quiz")
    assert len(quiz.sequence) >= 4 and parse_duration_range(quiz.spacing) == (60, 120)


def test_skincare_moments_stay_in_their_windows_and_cap() -> None:
    _, pb = _load("skincare.yaml")
    windows = [parse_window(w) for w in ("07:30-09:00", "11:00-14:00", "16:00-19:00",
                                         "21:00-23:00")]
    moments = [s for s in pb.timetable if s.target == "moments"]
    assert 3 <= len(moments) <= pb.caps.moments_per_day <= 4
    day = date(2026, 11, 24)
    for s in moments:
        (minute,) = slot_minutes(s, "g001", day)
        assert any(lo.hour * 60 + lo.minute <= minute <= hi.hour * 60 + hi.minute
                   for lo, hi in windows), s.id


def test_skincare_funnel_roles_and_sources() -> None:
    _, pb = _load("skincare.yaml")
    assert pb.funnel is not None
    stages = {s.id: s for s in pb.funnel.stages}
    assert [stages[i].effort for i in ("pond", "transit", "core")] == [15, 20, 65]
    assert sum(s.effort or 0 for s in pb.funnel.stages) == 100
    assert stages["pond"].entry.kind == "free" and stages["pond"].otherwise == "sales"
    assert stages["transit"].entry.product == "vip-188"
    assert {p.id: p.price for p in pb.products}["vip-188"] == 1.88
    assert (stages["core"].entry.kind, stages["core"].entry.amount) == ("spend", 500)
    assert [p.name for p in pb.funnel.phases] == ["前期", "中期", "中后期", "后期"]
    assert pb.roles.owner is not None and pb.roles.owner.name == "王老师"
    assert all(len(p.groups) <= 4 for p in pb.roles.sub_owners)
    tags = {s.tag for s in pb.acquisition}
    assert {"门店", "包裹卡", "朋友圈广告", "直播", "公众号"} <= tags
    keywords = {k for a in pb.auto_replies for k in a.keywords}
    assert {"物流", "优惠券", "怎么用", "退货"} <= keywords
    assert pb.channel == "console" and pb.channels["console"].type == "console"
    assert isinstance(pb.groups, list) and len(pb.groups) == 5
    assert {g.stage for g in pb.groups} == {"pond", "transit", "core"}


# ----------------------------------------------------------------------------- fruit, knowledge

def test_fruit_weekly_flash_sale_group_buy_and_inventory_file() -> None:
    loaded, pb = _load("fruit.yaml")
    assert loaded.groups_path is not None and loaded.groups_path.endswith("fruit-groups.yaml")
    assert isinstance(pb.groups, list) and len(pb.groups) >= 5
    sale = _slot(pb, "wednesday-flash-sale")
    assert weekdays_of(sale) == frozenset({2}) and len(sale.sequence) >= 2
    assert any(s.kind == "group-buy" for s in pb.timetable)
    assert any(s.kind == "tasting" for s in pb.timetable)
    check_in = _slot(pb, "check-in")
    assert check_in.at == "08:00" and check_in.days == "daily"
    assert all((s.every_days or 0) >= 2 for s in pb.timetable if s.kind == "red-packet")
    assert pb.funnel is not None and sum(s.effort or 0 for s in pb.funnel.stages) == 100


def test_knowledge_community_is_paid_and_pyramid() -> None:
    _, pb = _load("knowledge.yaml")
    pos = pb.positioning
    assert (pos.type, pos.connection, pos.threshold.kind) == ("knowledge", "pyramid", "paid")
    assert pos.threshold.price and pos.threshold.price > 0
    assert pos.platform in ("dingtalk", "telegram")
    sharing = _slot(pb, "weekly-sharing")
    assert len(weekdays_of(sharing)) == 1 and sharing.content in pb.content
    assert any(s.kind == "check-in" and s.days == "daily" for s in pb.timetable)
    course = _slot(pb, "entry-course")
    assert course.course and all(item in pb.content for item in course.course)
    assert pb.roles.experts
