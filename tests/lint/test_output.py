"""Golden tests for `sopctl lint --format text|json|sarif|github`, and SARIF's structure.

Regenerate the golden files after an intended change with
``SOPCTL_UPDATE_GOLDEN=1 pytest tests/lint/test_output.py`` and review the diff.
Only loader codes (SOP0xx) are selected so that new catalogue rules don't churn them.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import jsonschema
import pytest
from typer.testing import CliRunner

from sopctl.findings import Finding
from sopctl.lint.registry import all_rules
from sopctl.lint.report import caret_pad, display_width, render, to_github
from sopctl.lint.sarif import artifact_uri, to_sarif
from sopctl.main import app

GOLDEN = Path(__file__).resolve().parent.parent / "golden"
INPUTS = sorted((GOLDEN / "input").glob("*.yaml"))
UPDATE = os.environ.get("SOPCTL_UPDATE_GOLDEN") == "1"


@pytest.fixture
def workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    for f in INPUTS:
        shutil.copy(f, tmp_path / f.name)
    monkeypatch.chdir(tmp_path)
    for var in ("FORCE_COLOR", "GITHUB_ACTIONS", "TTY_COMPATIBLE"):
        monkeypatch.delenv(var, raising=False)
    return tmp_path


def _lint(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(app, ["lint", *(f.name for f in INPUTS), "--select", "SOP0",
                                      *args])
    assert result.exception is None or isinstance(result.exception, SystemExit), result.output
    return result.exit_code, result.stdout


def _normalise_sarif(doc: dict) -> dict:
    """Keep the results whole; keep only the rules they reference, so a rule added to the
    catalogue does not change the golden file (the full list is checked separately)."""
    run = doc["runs"][0]
    rules = run["tool"]["driver"]["rules"]
    for res in run["results"]:
        assert rules[res.pop("ruleIndex")]["id"] == res["ruleId"]
    used = {r["ruleId"] for r in run["results"]}
    run["tool"]["driver"]["rules"] = [{"id": r["id"], "name": r["name"]}
                                      for r in rules if r["id"] in used]
    run["tool"]["driver"]["version"] = run["tool"]["driver"]["semanticVersion"] = "<version>"
    return doc


def _check_golden(name: str, actual: str) -> None:
    path = GOLDEN / name
    if UPDATE:
        path.write_text(actual, encoding="utf-8")
        return
    assert path.exists(), f"{path} missing: run with SOPCTL_UPDATE_GOLDEN=1"
    assert actual == path.read_text(encoding="utf-8"), (
        f"{name} differs; if intended, regenerate with SOPCTL_UPDATE_GOLDEN=1")


@pytest.mark.parametrize("fmt", ["text", "json", "sarif", "github"])
def test_golden(workdir: Path, fmt: str) -> None:
    code, out = _lint("--format", fmt)
    assert code == 1
    if fmt == "sarif":
        out = json.dumps(_normalise_sarif(json.loads(out)), ensure_ascii=False, indent=2) + "\n"
    _check_golden(f"lint.{fmt}", out)


def test_golden_statistics(workdir: Path) -> None:
    code, out = _lint("--statistics")
    assert code == 1
    _check_golden("lint.statistics.txt", out)
    code, out = _lint("--statistics", "--format", "json")
    rows = json.loads(out)
    assert sum(r["count"] for r in rows) == len(json.loads(_lint("-f", "json")[1]))
    assert rows == sorted(rows, key=lambda r: (-r["count"], r["code"], r["slug"]))


def test_json_findings_carry_required_fields(workdir: Path) -> None:
    items = json.loads(_lint("-f", "json")[1])
    assert items
    for item in items:
        assert {"path", "line", "column", "code", "severity", "message"} <= item.keys()
        assert item["line"] >= 1 and item["column"] >= 1
    assert any("美肌" in i["message"] or "早安" in i["message"] or i["path"] == "broken.yaml"
               for i in items)


def test_text_is_plain_without_a_terminal(workdir: Path) -> None:
    _code, out = _lint()
    assert "\x1b[" not in out
    assert "美肌福利群" in out  # the source line, not mojibake


# --------------------------------------------------------------------------- SARIF structure

# The parts of the SARIF 2.1.0 schema (sarif-schema-2.1.0.json) that say which keys are
# required and what they may hold, restated here so the check needs no network.
_SARIF_SUBSET = {
    "type": "object",
    "required": ["version", "runs"],
    "properties": {
        "version": {"const": "2.1.0"},
        "$schema": {"type": "string", "format": "uri"},
        "runs": {"type": "array", "minItems": 1, "items": {"$ref": "#/$defs/run"}},
    },
    "$defs": {
        "message": {"type": "object", "anyOf": [{"required": ["text"]}, {"required": ["id"]}],
                    "properties": {"text": {"type": "string"}}},
        "multiformat": {"type": "object", "required": ["text"],
                        "properties": {"text": {"type": "string"},
                                       "markdown": {"type": "string"}}},
        "rule": {"type": "object", "required": ["id"], "properties": {
            "id": {"type": "string"}, "name": {"type": "string"},
            "shortDescription": {"$ref": "#/$defs/multiformat"},
            "fullDescription": {"$ref": "#/$defs/multiformat"},
            "help": {"$ref": "#/$defs/multiformat"},
            "defaultConfiguration": {"type": "object", "properties": {
                "level": {"enum": ["none", "note", "warning", "error"]}}}}},
        "run": {"type": "object", "required": ["tool"], "properties": {
            "tool": {"type": "object", "required": ["driver"], "properties": {
                "driver": {"type": "object", "required": ["name"], "properties": {
                    "name": {"type": "string"}, "version": {"type": "string"},
                    "rules": {"type": "array", "items": {"$ref": "#/$defs/rule"}}}}}},
            "columnKind": {"enum": ["utf16CodeUnits", "unicodeCodePoints"]},
            "results": {"type": "array", "items": {"$ref": "#/$defs/result"}}}},
        "result": {"type": "object", "required": ["message"], "properties": {
            "ruleId": {"type": "string"}, "ruleIndex": {"type": "integer", "minimum": -1},
            "level": {"enum": ["none", "note", "warning", "error"]},
            "message": {"$ref": "#/$defs/message"},
            "locations": {"type": "array", "items": {"type": "object", "properties": {
                "physicalLocation": {"$ref": "#/$defs/physicalLocation"}}}}}},
        "physicalLocation": {
            "type": "object", "anyOf": [{"required": ["artifactLocation"]},
                                        {"required": ["address"]}],
            "properties": {
                "artifactLocation": {"type": "object", "properties": {
                    "uri": {"type": "string", "format": "uri-reference"},
                    "uriBaseId": {"type": "string"}}},
                "region": {"type": "object", "properties": {
                    "startLine": {"type": "integer", "minimum": 1},
                    "startColumn": {"type": "integer", "minimum": 1}}}}},
    },
}


def test_sarif_is_structurally_valid(workdir: Path) -> None:
    doc = json.loads(_lint("-f", "sarif")[1])
    jsonschema.Draft202012Validator(
        _SARIF_SUBSET, format_checker=jsonschema.FormatChecker()).validate(doc)
    run = doc["runs"][0]
    rules = run["tool"]["driver"]["rules"]
    registry = [r.code for r in all_rules()]
    assert [r["id"] for r in rules[: len(registry)]] == registry  # every rule, in order
    assert len({r["id"] for r in rules}) == len(rules)
    for res in run["results"]:
        assert rules[res["ruleIndex"]]["id"] == res["ruleId"]
        loc = res["locations"][0]["physicalLocation"]
        assert not loc["artifactLocation"]["uri"].startswith(("/", "file:"))


def test_sarif_rejects_what_it_should() -> None:
    """The subset schema is not a rubber stamp."""
    validator = jsonschema.Draft202012Validator(_SARIF_SUBSET)
    bad = to_sarif([Finding("a.yaml", 1, 1, "SOP001", "error", "m")])
    del bad["runs"][0]["results"][0]["message"]
    assert not validator.is_valid(bad)
    bad = to_sarif([Finding("a.yaml", 1, 1, "SOP001", "error", "m")])
    bad["runs"][0]["results"][0]["locations"][0]["physicalLocation"]["region"]["startLine"] = 0
    assert not validator.is_valid(bad)


def test_sarif_levels_uris_and_unknown_codes(tmp_path: Path) -> None:
    findings = [Finding("规则/剧本.yaml", 3, 5, "SOP001", "error", "坏了"),
                Finding("b.yaml", 1, 1, "SOP099", "warning", "w", "unused-noqa"),
                Finding("c.yaml", 2, 2, "SOP999", "info", "i", "made-up")]
    doc = to_sarif(findings, cwd=str(tmp_path))
    results = doc["runs"][0]["results"]
    assert [r["level"] for r in results] == ["error", "warning", "note"]
    uri = results[0]["locations"][0]["physicalLocation"]["artifactLocation"]["uri"]
    assert uri == "%E8%A7%84%E5%88%99/%E5%89%A7%E6%9C%AC.yaml"
    rules = doc["runs"][0]["tool"]["driver"]["rules"]
    assert rules[results[2]["ruleIndex"]]["id"] == "SOP999"
    assert artifact_uri(str(tmp_path / "x.yaml"), cwd=str(tmp_path)) == "x.yaml"
    assert artifact_uri("/elsewhere/x.yaml", cwd=str(tmp_path)) == "file:///elsewhere/x.yaml"
    assert artifact_uri("<stdin>") == "stdin"


# --------------------------------------------------------------------------- text details

def test_caret_sits_under_the_column_in_cjk_lines() -> None:
    line = "  - {id: 早安, kind: 早安问候, at: 450}"
    col = line.index("450") + 1
    pad = caret_pad(line, col)
    assert len(pad) == display_width(line[: col - 1]) == col - 1 + 6  # six wide characters
    assert caret_pad("\tat: 1", 2) == "\t"  # tabs kept, so the terminal aligns both lines


def test_text_escapes_markup_and_control_characters(tmp_path: Path) -> None:
    src = tmp_path / "a.yaml"
    src.write_text("name: [bold]x\x1b[31m\n", encoding="utf-8")
    out_path = tmp_path / "out.txt"
    with out_path.open("w", encoding="utf-8") as fh:
        render([Finding(str(src), 1, 7, "SOP012", "error", "bad [red]value[/] \x1b[2J",
                        "invalid-value", "try [this]")], 1, "text", out=fh)
    out = out_path.read_text(encoding="utf-8")
    assert "\x1b" not in out
    assert "[bold]x" in out and "[red]value[/]" in out and "try [this]" in out
    assert "Found 1 error in 1 file." in out


def test_summary_counts_and_clean_run(tmp_path: Path) -> None:
    import io

    buf = io.StringIO()
    render([], 3, "text", out=buf)
    assert buf.getvalue().strip() == "All checks passed (3 files)."
    buf = io.StringIO()
    render([Finding("x.yaml", 1, 1, "SOP099", "warning", "w", "unused-noqa")], 1, "text",
           out=buf)
    assert "Found 1 warning in 1 file (none fail the check)." in buf.getvalue()


def test_github_escapes_properties_and_message() -> None:
    out = to_github([Finding("a,b:c.yaml", 2, 3, "SOP010", "warning", "50% off\nnext", "x")])
    assert out == "::warning file=a%2Cb%3Ac.yaml,line=2,col=3,title=SOP010 x::50%25 off%0Anext"


def test_github_chosen_by_environment(workdir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GITHUB_ACTIONS", "true")
    _code, out = _lint()
    assert out.startswith("::error file=broken.yaml,line=")


def _run(args: list[str], cwd: Path, **env: str) -> subprocess.CompletedProcess[bytes]:
    full_env = {k: v for k, v in os.environ.items()
                if k not in ("FORCE_COLOR", "NO_COLOR", "GITHUB_ACTIONS", "TTY_COMPATIBLE")}
    full_env.update(env)
    return subprocess.run([sys.executable, "-m", "sopctl", *args], cwd=cwd, env=full_env,
                          capture_output=True, timeout=60)


def test_pipe_gets_utf8_even_in_an_ascii_locale(workdir: Path) -> None:
    proc = _run(["lint", "broken.yaml", "--select", "SOP0"], workdir,
                PYTHONIOENCODING="ascii", LC_ALL="C")
    assert proc.returncode == 1
    out = proc.stdout.decode("utf-8")  # raises on mojibake
    assert "早安问候" in out and "\x1b[" not in out
    assert b"Traceback" not in proc.stderr


@pytest.mark.skipif(sys.platform == "win32", reason="needs a pseudo-terminal")
def test_terminal_gets_colour(workdir: Path) -> None:
    import pty

    master, slave = pty.openpty()
    env = {k: v for k, v in os.environ.items() if k not in ("NO_COLOR", "GITHUB_ACTIONS")}
    env["TERM"] = "xterm-256color"
    proc = subprocess.Popen([sys.executable, "-m", "sopctl", "lint", "broken.yaml",
                             "--select", "SOP0"], cwd=workdir, stdout=slave, stderr=slave,
                            env=env)
    os.close(slave)
    chunks = []
    while True:
        try:
            data = os.read(master, 65536)
        except OSError:
            break
        if not data:
            break
        chunks.append(data)
    proc.wait(timeout=60)
    os.close(master)
    out = b"".join(chunks).decode("utf-8")
    assert proc.returncode == 1
    assert "\x1b[" in out and "早安问候" in out
