"""What lint says about templates, values as typed and texts a channel refuses — each at
the exact line and column, with the same verdict the renderer and the runner reach."""

from __future__ import annotations

from pathlib import Path

import pytest

from sopctl.lint.config import LintConfig
from sopctl.lint.engine import lint_loaded
from sopctl.playbook.loader import load_playbook

ROOT = Path(__file__).resolve().parents[2]
GOOD = (ROOT / "examples" / "rules" / "SOP103.good.yaml").read_text(encoding="utf-8")
MORNING = ('  - {id: morning, kind: good-morning, at: "07:30", '
           'text: "早上好, {group_name}的朋友们!"}\n')


def lint(tmp_path: Path, text: str) -> list:
    p = tmp_path / "pb.yaml"
    p.write_text(text, encoding="utf-8")
    return lint_loaded(load_playbook(str(p)), LintConfig(), env={})


def at(text: str, finding) -> str:  # type: ignore[no-untyped-def]
    """The source from the finding's line and column on."""
    return text.splitlines()[finding.line - 1][finding.column - 1:]


def only(findings: list, code: str):  # type: ignore[no-untyped-def]
    got = [f for f in findings if f.code == code]
    assert len(got) == 1, [f.short() for f in findings]
    return got[0]


def test_the_good_example_is_clean(tmp_path: Path) -> None:
    assert [f for f in lint(tmp_path, GOOD) if f.severity != "info"] == []


@pytest.mark.parametrize(("slot_text", "placeholder", "words"), [
    ('"早上好 {group_name.__class__.__mro__}"', "{group_name.__class__", "attribute"),
    ('"{{group_name}}"', "{{group_name}}", "single braces"),
    ('"早上好 {group_name[0]}"', "{group_name[0]}", "indexes"),
    ("'早上好 {group_name!r}'", "{group_name!r}", "conversion"),
    ('"早上好 {nickname}"', "{nickname}", "not available in a timetable text"),
    ('"早上好 {grup_name}"', "{grup_name}", "did you mean {group_name}"),
    ('"早上好 {day:.2f}"', "{day:.2f}", "not supported"),
    ('"早上好 {0}"', "{0}", "not a variable name"),
])
def test_template_problems_are_errors_at_the_placeholder(tmp_path: Path, slot_text: str,
                                                         placeholder: str, words: str) -> None:
    text = GOOD.replace(MORNING, MORNING.replace('"早上好, {group_name}的朋友们!"', slot_text))
    f = only(lint(tmp_path, text), "SOP103")
    assert f.severity == "error" and words in f.message, f.message
    assert at(text, f).startswith(placeholder)


def test_jinja_braces_get_a_hint(tmp_path: Path) -> None:
    text = GOOD.replace(MORNING, MORNING.replace('"早上好, {group_name}的朋友们!"',
                                                 '"早上好 {{ group_name }}"'))
    f = only(lint(tmp_path, text), "SOP103")
    assert f.hint == "write {group_name}"
    # literal braces around a word that is no variable are fine: {{ and }} are the escape
    ok = GOOD.replace(MORNING, MORNING.replace('"早上好, {group_name}的朋友们!"',
                                               '"早上好 {{限时}} {group_name}"'))
    assert not [f for f in lint(tmp_path, ok) if f.code == "SOP103"]


@pytest.mark.parametrize("style", ["plain", "single", "double", "literal", "folded"])
def test_located_in_every_scalar_style(tmp_path: Path, style: str) -> None:
    body = "早安 第{day}天\n打卡 {group_name.upper} 完成"
    scalar = {
        "plain": "早安 第{day}天 打卡 {group_name.upper} 完成",
        "single": "'早安 第{day}天 打卡 {group_name.upper} 完成'",
        "double": '"早安 第{day}天\\n打卡 {group_name.upper} 完成"',
        "literal": "|\n      " + body.replace("\n", "\n      "),
        "folded": ">\n      早安 第{day}天\n      打卡\n      {group_name.upper} 完成",
    }[style]
    slot = f'  - id: morning\n    kind: good-morning\n    at: "07:30"\n    text: {scalar}\n'
    text = GOOD.replace(MORNING, slot)
    f = only(lint(tmp_path, text), "SOP103")
    assert at(text, f).startswith("{group_name.upper}"), (style, f.line, f.column)


def test_the_same_placeholder_twice_points_at_the_second(tmp_path: Path) -> None:
    text = GOOD.replace(MORNING, MORNING.replace('"早上好, {group_name}的朋友们!"',
                                                 '"{nick} 早上好 {group_name} {nick}"'))
    found = [f for f in lint(tmp_path, text) if f.code == "SOP103"]
    # one finding per use, each at its own column
    assert len(found) == 2 and found[0].column < found[1].column
    assert all(at(text, f).startswith("{nick}") for f in found)


def test_a_welcome_using_an_empty_part_is_an_error(tmp_path: Path) -> None:
    text = GOOD.replace("  prohibited: 禁止广告、外链、私加好友\n", "")
    assert text != GOOD
    f = only(lint(tmp_path, text), "SOP103")
    assert f.severity == "error" and "{prohibited} is empty" in f.message
    assert at(text, f).startswith("{prohibited}")


def test_a_name_pattern_with_an_unknown_field_is_an_error(tmp_path: Path) -> None:
    text = GOOD.replace('name_pattern: "美肌福利群{n:03}"', 'name_pattern: "美肌福利群{num:03}"')
    found = lint(tmp_path, text)
    f = only(found, "SOP103")
    assert f.severity == "error" and at(text, f).startswith("{num:03}")
    assert "not available in a group name pattern" in f.message and f.hint == (
        "available here: {n}")
    assert "SOP109" not in {x.code for x in found}  # one finding, not a warning as well


def test_a_sub_owner_of_a_group_that_does_not_exist(tmp_path: Path) -> None:
    text = GOOD.replace("groups: [g001, g002]}", "groups: [g001, g009]}")
    f = only(lint(tmp_path, text), "SOP401")
    assert f.severity == "error" and "g009" in f.message and at(text, f).startswith("g009")


def test_a_value_typed_as_a_number_is_sent_and_reported_as_typed(tmp_path: Path) -> None:
    from datetime import date

    from tests.plan._pb import plan

    text = GOOD.replace("  offer: 洁面乳买一送一\n", "  offer: 洁面乳买一送一\n  coupon: 0520\n"
                        "  big: 1e3\n").replace('text: "周三秒杀开始! {offer}"',
                                                'text: "周三秒杀开始! 券码{coupon} 满{big}"')
    found = [f for f in lint(tmp_path, text) if f.code == "SOP016"]
    assert sorted(at(text, f)[:4] for f in found) == ["0520", "1e3"]
    assert all(f.severity == "warning" for f in found)
    loaded = load_playbook(str(tmp_path / "pb.yaml"))
    assert loaded.playbook.variables["coupon"] == "0520"
    texts = {o.text for o in plan(loaded.playbook, date(2026, 11, 4))}
    assert "周三秒杀开始! 券码0520 满1e3" in texts


def test_a_long_text_on_a_customer_group_is_an_error_not_a_split(tmp_path: Path) -> None:
    bad = ROOT / "examples" / "rules" / "SOP406.bad.yaml"
    found = lint_loaded(load_playbook(str(bad)), LintConfig(), env={})
    f = only(found, "SOP406")
    assert f.severity == "error" and "5268 bytes" in f.message and "refuses" in f.message
    assert "SOP402" not in {x.code for x in found}


def test_the_lint_limit_is_the_channels_limit() -> None:
    from sopctl.lint.rules import sop406_customer_group_too_long as rule
    from sopctl.run.channels import wecom_customer_group as channel

    assert rule.TEXT_BYTES == channel.TEXT_BYTES
