"""Suppression (inline noqa, configuration) and the lint command's exit codes."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from sopctl.errors import UsageError
from sopctl.lint.config import LintConfig, find_config, load_config
from sopctl.lint.engine import lint_loaded
from sopctl.main import app
from sopctl.playbook.loader import load_playbook

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "rules"
ENV = {"WECOM_ROBOT_KEY": "k", "FEISHU_HOOK_TOKEN": "t"}
RED = (EXAMPLES / "SOP208.bad.yaml").read_text(encoding="utf-8")  # one warning, SOP208
CLEAN = (EXAMPLES / "SOP208.good.yaml").read_text(encoding="utf-8")
DUP = (EXAMPLES / "SOP214.bad.yaml").read_text(encoding="utf-8")  # one error, SOP214
MARK = "  # expect: SOP208"


def write(tmp_path: Path, text: str, name: str = "playbook.yaml") -> Path:
    p = tmp_path / name
    p.parent.mkdir(parents=True, exist_ok=True)
    p.write_text(text, encoding="utf-8")
    return p


def lint(path: Path, config: LintConfig | None = None) -> list:
    return lint_loaded(load_playbook(str(path)), config or LintConfig(), env=ENV)


def codes(findings: list) -> list[str]:
    return [f.code for f in findings]


# ----------------------------------------------------------------------------- noqa

def test_inline_noqa_with_the_code_suppresses_it(tmp_path: Path) -> None:
    assert codes(lint(write(tmp_path, RED))) == ["SOP208"]
    p = write(tmp_path, RED.replace(MARK, "  # sopctl: noqa: SOP208"))
    assert lint(p) == []


def test_noqa_accepts_several_codes_and_any_case(tmp_path: Path) -> None:
    p = write(tmp_path, RED.replace(MARK, "  # SOPCTL: NOQA: SOP204, sop208"))
    [f] = lint(p)
    assert f.code == "SOP099" and "SOP204" in f.message


def test_bare_noqa_suppresses_everything_on_its_line(tmp_path: Path) -> None:
    assert lint(write(tmp_path, RED.replace(MARK, "  # sopctl: noqa"))) == []


def test_noqa_for_another_code_keeps_the_finding_and_is_reported_unused(tmp_path: Path) -> None:
    p = write(tmp_path, RED.replace(MARK, "  # sopctl: noqa: SOP203"))
    found = lint(p)
    assert sorted(codes(found)) == ["SOP099", "SOP208"]
    [unused] = [f for f in found if f.code == "SOP099"]
    text = p.read_text(encoding="utf-8").splitlines()[unused.line - 1]
    assert text[unused.column - 1:].startswith("# sopctl: noqa")
    assert unused.severity == "warning" and unused.slug == "unused-noqa"


def test_bare_noqa_on_a_clean_line_is_unused(tmp_path: Path) -> None:
    p = write(tmp_path, CLEAN.replace("version: 1", "version: 1  # sopctl: noqa"))
    [f] = lint(p)
    assert f.code == "SOP099" and "(all)" in f.message and f.line == 3


def test_unused_noqa_can_itself_be_ignored(tmp_path: Path) -> None:
    p = write(tmp_path, CLEAN.replace("version: 1", "version: 1  # sopctl: noqa: SOP101"))
    assert lint(p, LintConfig(ignore=["SOP099"])) == []


def test_loader_errors_cannot_be_suppressed_but_yaml11_warnings_can(tmp_path: Path) -> None:
    text = (EXAMPLES / "SOP010.bad.yaml").read_text(encoding="utf-8")
    p = write(tmp_path, text.replace("  # expect: SOP010", "  # sopctl: noqa: SOP010"))
    assert "SOP010" in codes(lint(p))
    text = (EXAMPLES / "SOP016.bad.yaml").read_text(encoding="utf-8")
    p = write(tmp_path, text.replace("  # expect: SOP016", "  # sopctl: noqa: SOP016"))
    assert lint(p) == []


def test_noqa_in_an_inventory_file(tmp_path: Path) -> None:
    write(tmp_path, (EXAMPLES / "SOP004.good.yaml").read_text(encoding="utf-8"))
    inv = (EXAMPLES / "SOP004.inventory.yaml").read_text(encoding="utf-8")
    inv = inv.replace("members: 186}", "members: 260}")
    write(tmp_path, inv, "SOP004.inventory.yaml")
    assert codes(lint(tmp_path / "playbook.yaml")) == ["SOP110"]
    write(tmp_path, inv.replace("members: 260}", "members: 260}  # sopctl: noqa: SOP110"),
          "SOP004.inventory.yaml")
    assert lint(tmp_path / "playbook.yaml") == []


# ----------------------------------------------------------------------------- configuration

def test_pyproject_select_and_ignore(tmp_path: Path) -> None:
    write(tmp_path, '[project]\nname = "x"\n\n[tool.sopctl]\nignore = ["SOP208"]\n',
          "pyproject.toml")
    p = write(tmp_path, RED)
    cfg = load_config(start=tmp_path)
    assert cfg.source == str(tmp_path / "pyproject.toml")
    assert lint(p, cfg) == []
    write(tmp_path, '[tool.sopctl]\nselect = ["SOP1", "SOP3"]\n', "pyproject.toml")
    dup = write(tmp_path, DUP, "dup.yaml")
    assert lint(dup, load_config(start=tmp_path)) == []
    write(tmp_path, '[tool.sopctl]\nselect = ["SOP2"]\n', "pyproject.toml")
    assert codes(lint(dup, load_config(start=tmp_path))) == ["SOP214"]


def test_pyproject_without_a_sopctl_section_is_skipped(tmp_path: Path) -> None:
    write(tmp_path, '[project]\nname = "x"\n', "pyproject.toml")
    assert find_config(tmp_path) != tmp_path / "pyproject.toml"


def test_sopctl_toml_is_found_upward_and_wins_over_pyproject(tmp_path: Path) -> None:
    write(tmp_path, 'ignore = ["SOP214"]\n', "sopctl.toml")
    write(tmp_path, '[tool.sopctl]\nignore = ["SOP208"]\n', "pyproject.toml")
    sub = tmp_path / "a" / "b"
    sub.mkdir(parents=True)
    cfg = load_config(start=sub)
    assert cfg.source == str(tmp_path / "sopctl.toml") and cfg.ignore == ["SOP214"]
    assert lint(write(sub, DUP), cfg) == []


def test_per_file_ignores(tmp_path: Path) -> None:
    write(tmp_path, '[tool.sopctl.per-file-ignores]\n"legacy/*.yaml" = ["SOP208"]\n',
          "pyproject.toml")
    cfg = load_config(start=tmp_path)
    assert lint(write(tmp_path, RED, "legacy/old.yaml"), cfg) == []
    assert codes(lint(write(tmp_path, RED, "new/fresh.yaml"), cfg)) == ["SOP208"]


def test_bad_configuration_is_a_usage_error(tmp_path: Path) -> None:
    write(tmp_path, 'ignor = ["SOP208"]\n', "sopctl.toml")
    with pytest.raises(UsageError, match="unknown setting 'ignor'"):
        load_config(start=tmp_path)
    write(tmp_path, "ignore = 5\n", "sopctl.toml")
    with pytest.raises(UsageError, match="list of rule codes"):
        load_config(start=tmp_path)


# ----------------------------------------------------------------------------- exit codes

@pytest.fixture
def cli(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> CliRunner:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("GITHUB_ACTIONS", raising=False)
    return CliRunner()


def test_exit_0_when_clean(tmp_path: Path, cli: CliRunner) -> None:
    p = write(tmp_path, CLEAN)
    result = cli.invoke(app, ["lint", str(p)])
    assert result.exit_code == 0, result.output
    assert "All checks passed" in result.output


def test_exit_1_on_errors(tmp_path: Path, cli: CliRunner) -> None:
    p = write(tmp_path, DUP)
    result = cli.invoke(app, ["lint", "--no-env", str(p), "--format", "json"])
    assert result.exit_code == 1
    [f] = json.loads(result.output)
    assert f["code"] == "SOP214" and f["severity"] == "error"


def test_warnings_fail_only_with_strict(tmp_path: Path, cli: CliRunner) -> None:
    p = write(tmp_path, RED)
    assert cli.invoke(app, ["lint", str(p)]).exit_code == 0
    assert cli.invoke(app, ["lint", "--strict", str(p)]).exit_code == 1
    write(tmp_path, "strict = true\n", "sopctl.toml")
    assert cli.invoke(app, ["lint", str(p)]).exit_code == 1
    assert cli.invoke(app, ["lint", "--ignore", "SOP208", str(p)]).exit_code == 0


def test_select_and_ignore_options(tmp_path: Path, cli: CliRunner) -> None:
    p = write(tmp_path, DUP)
    assert cli.invoke(app, ["lint", "--ignore", "SOP214", str(p)]).exit_code == 0
    assert cli.invoke(app, ["lint", "--select", "SOP1", str(p)]).exit_code == 0
    assert cli.invoke(app, ["lint", "--select", "SOP21", str(p)]).exit_code == 1


def test_env_warning_and_no_env(tmp_path: Path, cli: CliRunner) -> None:
    p = write(tmp_path, (EXAMPLES / "SOP404.bad.yaml").read_text(encoding="utf-8"))
    result = cli.invoke(app, ["lint", "--strict", "--format", "json", str(p)],
                        env={"MEIJI_ROBOT_KEY": "robot-key"})
    assert result.exit_code == 0, result.output
    result = cli.invoke(app, ["lint", "--strict", "--format", "json", str(p)])
    assert result.exit_code == 1 and "SOP404" in result.output
    assert cli.invoke(app, ["lint", "--strict", "--no-env", str(p)]).exit_code == 0


def test_exit_2_for_a_missing_file(tmp_path: Path, cli: CliRunner) -> None:
    result = cli.invoke(app, ["lint", str(tmp_path / "missing.yaml")])
    assert isinstance(result.exception, UsageError) and result.exception.exit_code == 2
    proc = subprocess.run([sys.executable, "-m", "sopctl", "lint", "missing.yaml"],
                          cwd=tmp_path, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2
    assert "no such file" in proc.stderr and "Traceback" not in proc.stderr


def test_rule_and_rules_commands(cli: CliRunner) -> None:
    result = cli.invoke(app, ["rules", "--format", "json"])
    assert result.exit_code == 0
    listed = json.loads(result.output)
    assert {"SOP016", "SOP099", "SOP203", "SOP402"} <= {r["code"] for r in listed}
    result = cli.invoke(app, ["rule", "SOP010"])
    assert result.exit_code == 0 and "unknown-key" in result.output
    result = cli.invoke(app, ["rule", "quiet-hours-slot"])
    assert result.exit_code == 0 and "SOP203" in result.output


def test_rules_table_shows_summaries_without_markup(cli: CliRunner) -> None:
    result = cli.invoke(app, ["rules"], env={"COLUMNS": "200"})
    assert result.exit_code == 0
    assert "every_days: 1 says nothing" in result.output and "``" not in result.output
