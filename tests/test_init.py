"""`sopctl init`: every group type scaffolds a playbook that lints clean, even --strict."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from sopctl.commands.init import GROUP_TYPES, render_playbook
from sopctl.lint.config import LintConfig
from sopctl.lint.engine import lint_paths
from sopctl.main import app
from sopctl.playbook.loader import load_playbook


def _findings(path: Path) -> list[str]:
    findings, nfiles = lint_paths([str(path)], LintConfig(), env={})
    assert nfiles == 1
    return [f.short() for f in findings]


@pytest.mark.parametrize("kind", GROUP_TYPES)
@pytest.mark.parametrize("platform", ["wecom", "feishu"])
def test_every_type_lints_clean(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, kind: str,
                                platform: str) -> None:
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(app, ["init", "--type", kind, "--platform", platform, "--yes"])
    assert result.exit_code == 0, result.output
    out = tmp_path / "playbook.yaml"
    assert _findings(out) == []
    loaded = load_playbook(str(out))
    assert loaded.ok and loaded.playbook.positioning.type == kind
    assert loaded.playbook.positioning.platform == platform
    assert (tmp_path / "playbook.schema.json").is_file()
    assert out.read_text(encoding="utf-8").startswith(
        "# yaml-language-server: $schema=playbook.schema.json\n")
    if platform == "feishu":  # Feishu throttles exactly :00 and :30
        assert all(not str(s.at).endswith((":00", ":30")) for s in loaded.playbook.timetable)


def test_questions_and_defaults(tmp_path: Path) -> None:
    out = tmp_path / "sub" / "群.yaml"
    # type, name, timezone (default), platform
    result = CliRunner().invoke(app, ["init", "-o", str(out)],
                                input="knowledge\n写作营二期\n\ndingtalk\n")
    assert result.exit_code == 0, result.output
    assert "Group type (product, interest" in result.output
    assert "Timezone [Asia/Shanghai]" in result.output
    pb = load_playbook(str(out)).playbook
    assert pb is not None
    assert (pb.name, pb.timezone, pb.positioning.type, pb.positioning.platform) == (
        "写作营二期", "Asia/Shanghai", "knowledge", "dingtalk")
    assert pb.positioning.name_pattern == "写作营二期{n:03}"
    assert _findings(out) == []


def test_invalid_answer_is_asked_again(tmp_path: Path) -> None:
    out = tmp_path / "p.yaml"
    result = CliRunner().invoke(app, ["init", "-o", str(out), "--name", "x", "--timezone", "UTC",
                                      "--platform", "slack"], input="cult\ninterest\n")
    assert result.exit_code == 0, result.output
    assert load_playbook(str(out)).playbook.positioning.type == "interest"


def test_options_with_awkward_names(tmp_path: Path) -> None:
    text = render_playbook("marketing", name='团购: "秒杀" #1 {n}', timezone="Europe/Berlin")
    path = tmp_path / "p.yaml"
    path.write_text(text, encoding="utf-8")
    loaded = load_playbook(str(path))
    assert loaded.ok, [f.short() for f in loaded.findings]
    assert loaded.playbook.name == '团购: "秒杀" #1 {n}'


def test_stdout_output() -> None:
    result = CliRunner().invoke(app, ["init", "-y", "-t", "resource", "-o", "-"])
    assert result.exit_code == 0
    assert "type: resource" in result.stdout and "yaml-language-server" not in result.stdout


def _sopctl(args: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "sopctl", *args], cwd=cwd, capture_output=True,
                          text=True, encoding="utf-8", timeout=60)


def test_refuses_to_overwrite_without_force(tmp_path: Path) -> None:
    target = tmp_path / "playbook.yaml"
    target.write_text("# 我的剧本\n", encoding="utf-8")
    proc = _sopctl(["init", "--yes"], tmp_path)
    assert proc.returncode == 2
    assert "already exists" in proc.stderr and "--force" in proc.stderr
    assert "Traceback" not in proc.stderr
    assert target.read_text(encoding="utf-8") == "# 我的剧本\n"
    proc = _sopctl(["init", "--yes", "--force", "--type", "interest"], tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert "type: interest" in target.read_text(encoding="utf-8")


@pytest.mark.parametrize("args", [["--type", "cult"], ["--platform", "icq"],
                                  ["--timezone", "Asia/Beijing"]])
def test_bad_options_are_usage_errors(tmp_path: Path, args: list[str]) -> None:
    proc = _sopctl(["init", "--yes", *args], tmp_path)
    assert proc.returncode == 2 and "error:" in proc.stderr and "Traceback" not in proc.stderr
    assert not (tmp_path / "playbook.yaml").exists()
