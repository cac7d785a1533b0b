"""Text output in Chinese and with wide characters: the zh-CN golden file, plurals in both
languages, carets under the right cell, and long lines cut around the caret."""

from __future__ import annotations

import io
import os
import shutil
from pathlib import Path

import pytest
from rich.cells import cell_len
from typer.testing import CliRunner

from sopctl.findings import Finding
from sopctl.i18n import using
from sopctl.lint.report import SNIPPET_CELLS, render, snippet, summary_line
from sopctl.main import app

GOLDEN = Path(__file__).resolve().parent.parent / "golden"
INPUTS = sorted((GOLDEN / "input").glob("*.yaml"))
UPDATE = os.environ.get("SOPCTL_UPDATE_GOLDEN") == "1"


def test_golden_text_in_chinese(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for f in INPUTS:
        shutil.copy(f, tmp_path / f.name)
    monkeypatch.chdir(tmp_path)
    for var in ("FORCE_COLOR", "GITHUB_ACTIONS", "TTY_COMPATIBLE"):
        monkeypatch.delenv(var, raising=False)
    with using("zh-CN"):
        result = CliRunner().invoke(app, ["lint", *(f.name for f in INPUTS), "--select", "SOP0"])
    assert result.exit_code == 1, result.output
    path = GOLDEN / "lint.zh-CN.text"
    if UPDATE:
        path.write_text(result.stdout, encoding="utf-8")
    assert result.stdout == path.read_text(encoding="utf-8"), (
        "lint.zh-CN.text differs; if intended, regenerate with SOPCTL_UPDATE_GOLDEN=1")


def _finding(n_err: int, n_warn: int) -> list[Finding]:
    return ([Finding("a.yaml", i + 1, 1, "SOP012", "error", "x") for i in range(n_err)]
            + [Finding("a.yaml", 100 + i, 1, "SOP099", "warning", "w") for i in range(n_warn)])


@pytest.mark.parametrize(("errors", "warnings", "files", "en", "zh"), [
    (0, 0, 1, "All checks passed (1 file).", "全部检查通过（1 个文件）。"),
    (0, 0, 12, "All checks passed (12 files).", "全部检查通过（12 个文件）。"),
    (1, 0, 1, "Found 1 error in 1 file.", "在 1 个文件中发现 1 个错误。"),
    (2, 3, 4, "Found 2 errors, 3 warnings in 4 files.", "在 4 个文件中发现 2 个错误、3 个警告。"),
    (0, 1, 2, "Found 1 warning in 2 files (none fail the check).",
     "在 2 个文件中发现 1 个警告（均不导致检查失败）。"),
])
def test_summary_plurals(errors: int, warnings: int, files: int, en: str, zh: str) -> None:
    found = _finding(errors, warnings)
    assert summary_line(found, files) == en
    with using("zh-CN"):
        assert summary_line(found, files) == zh


def _snippet_lines(text: str) -> tuple[str, str]:
    """The source line and the caret line of rendered text output."""
    lines = text.splitlines()
    src = next(ln for ln in lines if " | " in ln and not ln.strip().startswith("|"))
    caret = next(ln for ln in lines if ln.rstrip().endswith("^"))
    return src, caret


def _render(tmp_path: Path, line: str, column: int) -> str:
    src = tmp_path / "long.yaml"
    src.write_text(f"name: x\n{line}\n", encoding="utf-8")
    buf = io.StringIO()
    render([Finding(str(src), 2, column, "SOP402", "warning", "m", "message-too-long")], 1,
           "text", out=buf)
    return buf.getvalue()


@pytest.mark.parametrize("where", ["start", "middle", "end", "past-end"])
def test_a_long_line_is_cut_around_the_caret(tmp_path: Path, where: str) -> None:
    body = "第1课：" + "认识你的肤质，" * 700 + "x" * 50  # about 5 KB of UTF-8, wide characters
    line = f"  lesson01: \"{body}\""
    column = {"start": 3, "middle": len(line) // 2 + 1, "end": len(line),
              "past-end": len(line) + 1}[where]
    out = _render(tmp_path, line, column)
    src, caret = _snippet_lines(out)
    assert cell_len(src) <= SNIPPET_CELLS + 20, "the snippet is not cut"
    assert len(out) < 1000
    # the caret's cell is the cell where the target character starts in the source line
    target = caret.index("^")
    shown, col = snippet(line, column)
    gutter = src.index("| ") + 2
    assert cell_len(src[:gutter] + shown[: col - 1]) == cell_len(caret[:target])
    if col - 1 < len(shown):
        assert src[gutter:].startswith(shown)
        assert shown[col - 1] == line[column - 1]
    if where != "start":
        assert "..." in src.split("| ", 1)[1][:4], "the cut start is marked"
    if where in ("start", "middle"):
        assert src.endswith("..."), "the cut end is marked"


def test_a_short_line_is_shown_whole(tmp_path: Path) -> None:
    line = "  - {id: 早安, kind: 早安问候, at: 450}  # 欢迎来到美肌福利群，请先看群公告"
    out = _render(tmp_path, line, line.index("450") + 1)
    src, caret = _snippet_lines(out)
    assert line in src and "..." not in src
    assert cell_len(caret[: caret.index("^")]) == cell_len(src[: src.index("450")])


def test_cut_keeps_tabs_and_wide_characters_aligned() -> None:
    line = "\t" + "宽" * 300 + "target" + "窄" * 300
    column = line.index("target") + 1
    shown, col = snippet(line, column)
    assert shown.startswith("...") and shown.endswith("...")
    assert shown[col - 1:].startswith("target")
    assert cell_len(shown) <= SNIPPET_CELLS + 6
