"""Fuzzing the loader and `sopctl lint -`: whatever comes in, no exception escapes, the
exit code is 0 or 1, and every finding is located."""

from __future__ import annotations

import json
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from sopctl.main import app
from sopctl.playbook.loader import load_playbook

MINIMAL = (Path(__file__).resolve().parents[2] / "examples" / "minimal.yaml").read_text(
    encoding="utf-8")

_TOKENS = [
    "version", "name", "timezone", "positioning", "type", "purpose", "name_pattern",
    "timetable", "id", "kind", "at", "cron", "days", "every_days", "life_days", "groups",
    "opened", "channels", "channel", "welcome", "rules", "ladder", "funnel", "stages",
    "content", "variables", "quiet_hours", "caps", "auto_replies", "keywords",
    ": ", ":", "- ", "-", "\n", "\n  ", "\n    ", "\n  - ", "\t", " ", "[", "]", "{", "}", ",",
    "'", '"', "#", "# sopctl: noqa", "&a ", "*a", "&b ", "*b", "<<: ", "!!python/object ",
    "!foo ", "!!str ", "---\n", "...\n", "|\n  ", ">\n  ", "?", "%YAML 1.1\n", "\\",
    "7:30", "450", "07:30", "13:00-16:00", "25:00", "no", "off", "yes", "~", "null", "true",
    "2026-11-01", "2026-02-30", "0x1F", "1e3", ".inf", "-1", "0", "999999999999999999999",
    "Asia/Shanghai", "Mars/Base", "*/5 * * * *", "61 * * * *", "wed", "周三", "product",
    "美肌福利群", "{n:03}", "{nickname}", "早安", "\u3000", "\ufeff", "\x85", "\u2028", "\x00",
]
yamlish = st.lists(st.sampled_from(_TOKENS), max_size=60).map("".join)


@st.composite
def mutated(draw: st.DrawFn) -> str:
    """The minimal playbook with a few random edits: reaches the model and the rules."""
    text = MINIMAL
    for _ in range(draw(st.integers(1, 4))):
        pos = draw(st.integers(0, len(text)))
        op = draw(st.sampled_from(["insert", "delete", "replace"]))
        piece = draw(st.sampled_from(_TOKENS))
        if op == "insert":
            text = text[:pos] + piece + text[pos:]
        elif op == "delete":
            text = text[:pos] + text[pos + draw(st.integers(1, 20)):]
        else:
            text = text[:pos] + piece + text[pos + len(piece):]
    return text


FUZZ = settings(max_examples=150, deadline=None, derandomize=True,
                suppress_health_check=[HealthCheck.too_slow])


def _check_loaded(raw: bytes) -> None:
    loaded = load_playbook("fuzz.yaml", raw)
    errors = [f.short() for f in loaded.findings if f.severity == "error"]
    # refused exactly when an error says why; a loaded playbook carries its source map
    assert loaded.ok == (not errors), errors
    assert not loaded.ok or loaded.source is not None
    for f in loaded.findings:
        assert f.path and f.line >= 1 and f.column >= 1
        assert f.code.startswith("SOP") and f.message
        assert f.severity in ("error", "warning", "info")


@FUZZ
@given(yamlish)
def test_loader_yamlish_text(text: str) -> None:
    _check_loaded(text.encode("utf-8", errors="surrogatepass"))


@FUZZ
@given(mutated())
def test_loader_mutated_playbook(text: str) -> None:
    _check_loaded(text.encode("utf-8"))


@FUZZ
@given(st.binary(max_size=400))
def test_loader_random_bytes(raw: bytes) -> None:
    _check_loaded(raw)


def _check_cli(raw: bytes) -> None:
    result = CliRunner().invoke(app, ["lint", "-", "--format", "json", "--no-env"], input=raw)
    assert result.exception is None or isinstance(result.exception, SystemExit), (
        repr(result.exception))
    assert result.exit_code in (0, 1), result.output
    assert "Traceback" not in result.output
    items = json.loads(result.stdout)
    assert (result.exit_code == 1) == any(i["severity"] == "error" for i in items)
    for i in items:
        assert i["line"] >= 1 and i["column"] >= 1 and i["code"].startswith("SOP")


@settings(FUZZ, max_examples=60)
@given(st.one_of(mutated(), yamlish))
def test_cli_lint_text(text: str) -> None:
    _check_cli(text.encode("utf-8", errors="surrogatepass"))


@settings(FUZZ, max_examples=40)
@given(st.binary(max_size=300))
def test_cli_lint_bytes(raw: bytes) -> None:
    _check_cli(raw)
