"""`sopctl agenda`: the plan as a table, JSON, CSV and an RFC 5545 calendar."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from sopctl.errors import UsageError
from sopctl.main import app

PLAYBOOK = """\
version: 1
name: 美肌福利群
timezone: Asia/Shanghai
positioning:
  type: product
  purpose: 跟着我一起变美
  name_pattern: "美肌福利群{n:03}"
quiet_hours: {start: "22:00", end: "07:00"}
timetable:
  - id: morning
    kind: good-morning
    at: "07:30"
    text: 早上好 {group_name} 的朋友们!
  - id: course
    kind: course
    at: "19:30"
    course:
      - "第一课: 认识肤质; 油性, 干性 和 混合性\\\\ 今晚见"
      - 第二课 保湿
  - id: late
    kind: reminder
    at: "23:00"
    text: 明早见
channels:
  console: {type: console}
groups:
  - {id: g001, name: 美肌福利群001, opened: 2026-11-24}
  - {id: g002, name: 美肌福利群002, opened: 2026-11-25}
"""


@pytest.fixture
def pb_path(tmp_path: Path) -> Path:
    p = tmp_path / "playbook.yaml"
    p.write_text(PLAYBOOK, encoding="utf-8")
    return p


def cli(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(app, ["agenda", *args])
    if result.exception and not isinstance(result.exception, SystemExit):
        raise result.exception
    return result.exit_code, result.stdout


def test_json(pb_path: Path) -> None:
    code, out = cli(str(pb_path), "--from", "2026-11-24", "--days", "2", "-f", "json")
    assert code == 0
    data = json.loads(out)
    assert [(d["key"], d["local"], d["at_utc"]) for d in data] == [
        ("g001/morning/2026-11-24/0", "2026-11-24T07:30:00+08:00", "2026-11-23T23:30:00Z"),
        ("g001/course/2026-11-24/0", "2026-11-24T19:30:00+08:00", "2026-11-24T11:30:00Z"),
        ("g001/late/2026-11-24/0", "2026-11-25T07:00:00+08:00", "2026-11-24T23:00:00Z"),
        ("g001/morning/2026-11-25/0", "2026-11-25T07:30:00+08:00", "2026-11-24T23:30:00Z"),
        ("g002/morning/2026-11-25/0", "2026-11-25T07:30:00+08:00", "2026-11-24T23:30:00Z"),
        ("g001/course/2026-11-25/0", "2026-11-25T19:30:00+08:00", "2026-11-25T11:30:00Z"),
        ("g002/course/2026-11-25/0", "2026-11-25T19:30:00+08:00", "2026-11-25T11:30:00Z"),
    ]
    first = data[0]
    assert first["text"] == "早上好 美肌福利群001 的朋友们!"
    assert {"group", "slot", "seq", "kind", "channel", "delivery", "grace_s", "life_day",
            "notes"} <= set(first)
    assert data[2]["notes"] == ["deferred from 23:00 (quiet hours 22:00-07:00)"]


def test_group_filter_and_csv(pb_path: Path) -> None:
    code, out = cli(str(pb_path), "--from", "2026-11-25", "--days", "1", "-g", "美肌福利群002",
                    "-f", "csv")
    assert code == 0
    rows = list(csv.reader(io.StringIO(out)))
    assert rows[0] == ["key", "local", "at_utc", "group", "slot", "seq", "kind", "channel",
                       "delivery", "target", "mention", "format", "life_day", "grace_s", "text",
                       "notes"]
    assert [r[0] for r in rows[1:]] == ["g002/morning/2026-11-25/0", "g002/course/2026-11-25/0"]
    # g002 opened that day: its life day 1, lesson 1.
    assert rows[2][14].startswith("第一课") and rows[2][12] == "1"


def _unfold(raw: str) -> list[str]:
    lines = raw.split("\r\n")
    assert lines[-1] == ""
    out: list[str] = []
    for line in lines[:-1]:
        assert "\n" not in line and "\r" not in line
        assert len(line.encode()) <= 75, line
        if line.startswith(" "):
            out[-1] += line[1:]
        else:
            out.append(line)
    return out


def _unescape(v: str) -> str:
    out, i = [], 0
    while i < len(v):
        if v[i] == "\\" and i + 1 < len(v):
            out.append("\n" if v[i + 1] in "nN" else v[i + 1])
            i += 2
        else:
            out.append(v[i])
            i += 1
    return "".join(out)


def test_ics_is_rfc5545(pb_path: Path, tmp_path: Path) -> None:
    out_file = tmp_path / "agenda.ics"
    code, _ = cli(str(pb_path), "--from", "2026-11-24", "--days", "2", "-f", "ics",
                  "-o", str(out_file))
    assert code == 0
    raw = out_file.read_bytes().decode()
    lines = _unfold(raw)
    assert lines[0] == "BEGIN:VCALENDAR" and lines[-1] == "END:VCALENDAR"
    assert "VERSION:2.0" in lines and any(x.startswith("PRODID:") for x in lines)
    events, cur = [], None
    for line in lines:
        if line == "BEGIN:VEVENT":
            cur = {}
        elif line == "END:VEVENT":
            events.append(cur)
            cur = None
        elif cur is not None:
            name, _, value = line.partition(":")
            cur[name] = value
    assert len(events) == 7
    first = events[0]
    assert first["UID"] == "g001/morning/2026-11-24/0"
    assert first["DTSTART"] == "20261123T233000Z" and first["DTEND"] == "20261123T234500Z"
    assert "DTSTAMP" in first
    course = next(e for e in events if e["UID"] == "g001/course/2026-11-24/0")
    # Commas, semicolons and backslashes are escaped on the wire and round-trip exactly.
    assert "\\;" in course["DESCRIPTION"] and "\\," in course["DESCRIPTION"]
    desc = _unescape(course["DESCRIPTION"])
    assert desc.startswith("第一课: 认识肤质; 油性, 干性 和 混合性\\ 今晚见\n")
    assert _unescape(course["SUMMARY"]).startswith("美肌福利群001 · course: 第一课")
    assert raw.count("\r\n ") >= 1  # long CJK lines were folded (and never mid-character)


@pytest.fixture
def width(monkeypatch: pytest.MonkeyPatch):
    from sopctl.console import console

    def set_width(n: int) -> None:
        monkeypatch.setattr(console(), "width", n)

    return set_width


def test_table_renders_cjk(pb_path: Path, width) -> None:
    from rich.cells import cell_len

    width(160)
    code, out = cli(str(pb_path), "--from", "2026-11-24", "--days", "2")
    assert code == 0
    assert "美肌福利群001" in out and "Tue 07:30" in out and "11-23 23:30Z" in out
    assert "deferred" in out
    rows = [line for line in out.splitlines() if "│" in line]
    assert len(rows) == 7
    # Columns line up in display cells, CJK being two cells wide.
    seps = {tuple(cell_len(r[: i]) for i, ch in enumerate(r) if ch == "│") for r in rows}
    assert len(seps) == 1


def test_narrow_table_stacks_columns_instead_of_dropping_them(pb_path: Path, width) -> None:
    width(80)
    code, out = cli(str(pb_path), "--from", "2026-11-24", "--days", "2")
    assert code == 0
    heads = [line for line in out.splitlines() if "┃" in line]
    cells = [c.strip() for line in heads for c in line.split("┃")]
    # UTC under the local time, the channel under the group, the kind under the slot
    for h in ("Asia/Shanghai", "UTC", "group", "channel", "slot", "kind", "text"):
        assert h in cells
    assert "Tue 07:30" in out and "美肌福利群001" in out and "11-23 23:30Z" in out
    assert "美肌福 …" not in out and "美肌福…" not in out
    assert all(len(line) <= 80 for line in out.splitlines())


def test_playbook_with_errors_exits_1(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text(PLAYBOOK.replace("Asia/Shanghai", "Beijing"), encoding="utf-8")
    result = CliRunner().invoke(app, ["agenda", str(bad), "--from", "2026-11-24", "-f", "json"])
    assert result.exit_code == 1
    assert "SOP013" in result.stderr and "Asia/Shanghai" in result.stderr
    assert result.stdout == ""  # nothing that a `> plan.json` would mistake for output


def test_usage_errors(pb_path: Path) -> None:
    with pytest.raises(UsageError, match="no group 'g999'"):
        cli(str(pb_path), "--group", "g999")
    with pytest.raises(UsageError, match="is not a date"):
        cli(str(pb_path), "--from", "24/11/2026")


def test_default_playbook_and_from_today(pb_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import time_machine

    monkeypatch.chdir(pb_path.parent)
    with time_machine.travel("2026-11-25T03:00:00+08:00", tick=False):
        code, out = cli("--days", "1", "-f", "json")
    assert code == 0
    assert {d["local"][:10] for d in json.loads(out)} == {"2026-11-25"}
