"""One severity per rule, everywhere: `sopctl rules`, `sopctl rule`, docs/rules.md and the
findings lint reports (on the rule's own examples and on every shipped playbook)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from typer.testing import CliRunner

from sopctl.lint.config import LintConfig
from sopctl.lint.engine import lint_loaded
from sopctl.lint.registry import all_rules, find_rule
from sopctl.main import app
from sopctl.playbook.loader import load_playbook

ROOT = Path(__file__).resolve().parents[2]
RULES = all_rules()
ENV = {"WECOM_ROBOT_KEY": "robot-key", "FEISHU_HOOK_TOKEN": "hook-token"}
SHIPPED = sorted([*ROOT.glob("playbooks/*.yaml"), *ROOT.glob("examples/*.yaml")])


def _cli(*args: str) -> str:
    r = CliRunner().invoke(app, ["--lang", "en", *args])
    assert r.exit_code == 0, r.output
    return r.output


def _lint(path: Path) -> list:
    return lint_loaded(load_playbook(str(path)), LintConfig(), env=ENV)


def test_rules_json_lists_the_registry_severity() -> None:
    listed = {r["code"]: r["severity"] for r in json.loads(_cli("rules", "--format", "json"))}
    assert listed == {r.code: r.severity for r in RULES}


def test_docs_table_lists_the_registry_severity() -> None:
    text = (ROOT / "docs" / "rules.md").read_text(encoding="utf-8")
    rows = dict(re.findall(r"^\| \[(SOP\d{3})\]\([^)]*\) \| [a-z0-9-]+ \| (\w+) \|", text, re.M))
    assert rows == {r.code: r.severity for r in RULES}


@pytest.mark.parametrize("rule", RULES, ids=lambda r: r.code)
def test_rule_page_and_examples_agree(rule) -> None:  # type: ignore[no-untyped-def]
    head = _cli("rule", rule.code).splitlines()[0]
    assert head == f"{rule.code} {rule.slug} ({rule.severity})"
    bad = ROOT / "examples" / "rules" / f"{rule.code}.bad.yaml"
    good = ROOT / "examples" / "rules" / f"{rule.code}.good.yaml"
    found = [f for f in _lint(bad) if f.code == rule.code]
    assert found, f"{bad.name} does not trigger {rule.code}"
    assert {f.severity for f in found} == {rule.severity}
    for f in _lint(good):
        assert f.severity == find_rule(f.code).severity  # type: ignore[union-attr]


@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_shipped_findings_carry_their_rule_severity(path: Path) -> None:
    for f in _lint(path):
        assert f.severity == find_rule(f.code).severity, f.short()  # type: ignore[union-attr]


def test_no_rule_overrides_its_severity() -> None:
    src = "\n".join(p.read_text(encoding="utf-8")
                    for p in (ROOT / "sopctl" / "lint" / "rules").glob("*.py"))
    assert "severity=" not in src
