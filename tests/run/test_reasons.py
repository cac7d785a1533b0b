"""Ledger reasons: written in English from templates, read in the selected language."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

from sopctl import i18n
from sopctl.run import reasons as R
from sopctl.run.channels import dingtalk, feishu, wecom_robot

ROOT = Path(__file__).resolve().parents[2] / "sopctl"
FIELD = re.compile(r"\{(\w+)\}")


@pytest.fixture
def zh():
    i18n.setup("zh-CN")
    yield
    i18n.setup("en")


def _sample(template: str) -> tuple[str, dict[str, str]]:
    values = {name: f"V{n}x" for n, name in enumerate(FIELD.findall(template))}
    return template.format(**values), values


@pytest.mark.parametrize("template", R._ALL)
def test_every_template_reads_back_in_both_languages(template: str, zh: None) -> None:
    stored, values = _sample(template)
    shown = R.show(stored)
    assert shown == i18n._(template).format(**values)
    assert shown != stored, "no translation"
    assert all(v in shown for v in values.values())  # the platform's words kept as sent
    i18n.setup("en")
    assert R.show(stored) == stored


def test_nested_reasons_and_known_descriptions_are_translated(zh: None) -> None:
    why = wecom_robot.REASONS[93000]
    inner = R.ERRCODE.format(code=93000, why=why)
    stored = R.PART.format(i=2, n=3, posted=1, reason=R.GAVE_UP.format(n=5, reason=inner))
    shown = R.show(stored)
    assert "93000" in shown and why not in shown
    for english in ("part", "gave up", "attempts", "errcode", "invalid robot"):
        assert english not in shown, shown
    # a platform's own words stay as the platform sent them
    assert R.show(R.ERRCODE.format(code=45009, why="api freq out of limit")).endswith(
        "api freq out of limit")
    assert R.show("something a newer sopctl wrote") == "something a newer sopctl wrote"


def test_statuses_and_the_ledgers_own_reasons(zh: None) -> None:
    from sopctl.run import runner, schema

    for reason in (runner.SKIP_REASON, schema.UNCERTAIN_REASON, schema.HANDED_BACK):
        assert R.show(reason) != reason
    assert R.status_text("sent") != "sent" and R.status_text("new-word") == "new-word"


@pytest.mark.parametrize("module", [dingtalk, feishu, wecom_robot])
def test_errcode_descriptions_are_in_the_catalogue(module, zh: None) -> None:
    for why in module.REASONS.values():
        assert i18n._(why) != why, why


def _reason_arg(call: ast.Call) -> ast.expr | None:
    name = call.func.id if isinstance(call.func, ast.Name) else getattr(call.func, "attr", "")
    if name in ("SendResult", "Outcome"):
        idx = 1 if name == "SendResult" else 2
        if len(call.args) > idx:
            return call.args[idx]
        return next((k.value for k in call.keywords if k.arg == "reason"), None)
    return None


def test_every_reason_is_made_from_a_template() -> None:
    """A reason written as a literal or an f-string would be stored untranslatable; only
    templates (or a reason passed on) may reach the ledger."""
    found = []
    for path in [*(ROOT / "run").rglob("*.py"), *(ROOT / "events").rglob("*.py")]:
        if path.name == "reasons.py":
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not isinstance(node, ast.Call):
                continue
            arg = _reason_arg(node)
            if "channels" in path.parts and getattr(node.func, "id", "") == "ValueError":
                arg = node.args[0] if node.args else None  # a part that cannot be built
            literal = isinstance(arg, ast.JoinedStr) or (
                isinstance(arg, ast.Constant) and isinstance(arg.value, str) and arg.value)
            if literal:
                found.append(f"{path.relative_to(ROOT.parent)}:{node.lineno}")
    assert not found, "reasons not made from sopctl/run/reasons.py: " + ", ".join(found)
