"""Local time, labelled, and tables that fit 80 and 120 columns in both languages.

Every table command runs in-process on a rich console of a fixed width; the checks: no line
is wider than the terminal (in cells, CJK counting two), every column header is there (none
dropped), and no Chinese name is cut into "美肌福…".
"""

from __future__ import annotations

import csv
import io
import json
import os
import re
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest
from rich.cells import cell_len
from typer.testing import CliRunner

from sopctl import i18n
from sopctl.errors import UsageError
from sopctl.main import app
from sopctl.tables import Col, plan
from sopctl.timefmt import parse_instant, resolve_wall, stamp

ROOT = Path(__file__).resolve().parent.parent
SKINCARE = ROOT / "playbooks" / "skincare.yaml"
NAMES = ("美肌福利群001", "美肌VIP群001", "美肌会员群001")
CUT = re.compile(r"[\u4e00-\u9fff]…|[\u4e00-\u9fff] …$", re.M)  # a CJK name cut short


@pytest.fixture(params=["en", "zh-CN"])
def lang(request: pytest.FixtureRequest):
    i18n.setup(request.param)
    yield request.param
    i18n.setup("en")


def _cli(monkeypatch: pytest.MonkeyPatch, width: int, *args: str,
         env: dict[str, str] | None = None) -> str:
    from sopctl.console import console

    monkeypatch.setattr(console(), "width", width)
    for k, v in (env or {}).items():
        monkeypatch.setenv(k, v)
    result = CliRunner().invoke(app, list(args))
    if result.exception and not isinstance(result.exception, SystemExit):
        raise result.exception
    assert result.exit_code == 0, result.output
    return result.stdout


def _fits(out: str, width: int, tables_only: bool = True) -> None:
    """Table lines fit (prose is soft-wrapped by the terminal itself), nothing is cut."""
    lines = [line for line in out.splitlines()
             if not tables_only or any(ch in line for ch in "│┃━")]
    wide = [line for line in lines if cell_len(line) > width]
    assert not wide, f"{len(wide)} lines wider than {width}: {wide[:3]}"
    assert not CUT.search(out), CUT.search(out)


def _headers(out: str) -> set[str]:
    """Header cells of every table (rows with ┃), stacked headers included."""
    cells: set[str] = set()
    for line in out.splitlines():
        if "┃" in line:
            cells.update(c.strip() for c in line.split("┃"))
    return cells


@pytest.fixture(scope="module")
def ledger_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A real ledger: the skincare playbook run at 08:05 and 11:05 Shanghai time."""
    d = tmp_path_factory.mktemp("state")
    for now in ("2026-12-02T00:05:00Z", "2026-12-02T03:05:00Z"):
        env = {**os.environ, "SOPCTL_STATE_DIR": str(d), "SOPCTL_NOW": now}
        subprocess.run([sys.executable, "-m", "sopctl", "run", "--once", str(SKINCARE)],
                       env=env, capture_output=True, timeout=120, check=True, cwd=d)
    return d


# ---------------------------------------------------------------- the tables at 80 and 120

@pytest.mark.parametrize("width", [80, 120])
def test_agenda_fits(monkeypatch: pytest.MonkeyPatch, lang: str, width: int) -> None:
    out = _cli(monkeypatch, width, "agenda", str(SKINCARE), "--from", "2026-12-02", "-n", "1")
    _fits(out, width)
    for name in NAMES:
        assert name in out
    heads = _headers(out)
    for h in ("Asia/Shanghai", "UTC", i18n._("group"), i18n._("slot"), i18n._("kind"),
              i18n._("channel"), i18n._("text")):
        assert h in heads, (h, heads)
    assert "08:00" in out and "00:00Z" in out  # local, and the same instant in UTC


@pytest.mark.parametrize("width", [80, 120])
def test_history_fits(monkeypatch: pytest.MonkeyPatch, lang: str, width: int,
                      ledger_dir: Path) -> None:
    out = _cli(monkeypatch, width, "history", "--state-dir", str(ledger_dir), "--playbook",
               str(SKINCARE))
    _fits(out, width)
    heads = _headers(out)
    for h in ("Asia/Shanghai", i18n._("playbook"), i18n._("group"), i18n._("slot"),
              i18n._("channel"), i18n._("status"), i18n._("tries"), i18n._("reason")):
        assert h in heads, (h, heads)
    for name in NAMES:  # the groups as operators know them, whole
        assert name in out
    assert "2026-12-02 08:00" in out  # 00:00 UTC on the playbook's clock
    assert "2026-12-02 00:00" not in out


@pytest.mark.parametrize("width", [80, 120])
def test_status_fits(monkeypatch: pytest.MonkeyPatch, lang: str, width: int,
                     ledger_dir: Path) -> None:
    out = _cli(monkeypatch, width, "status", str(SKINCARE), "--state-dir", str(ledger_dir),
               env={"SOPCTL_NOW": "2026-12-02T03:10:00Z"})
    _fits(out, width)
    heads = _headers(out)
    for h in ("Asia/Shanghai", i18n._("in"), i18n._("playbook"), i18n._("group"),
              i18n._("slot"), i18n._("channel"), i18n._("status")):
        assert h in heads, (h, heads)
    assert "12-02 11:00" in out  # last sends, local
    assert "美肌福利群001" in out


@pytest.mark.parametrize("width", [80, 120])
def test_simulate_fits(monkeypatch: pytest.MonkeyPatch, lang: str, width: int) -> None:
    from sopctl.console import console

    # simulate keeps rows whole when piped; on a terminal it must fit (plain: no colours)
    monkeypatch.setattr(console(), "_force_terminal", True)
    monkeypatch.setattr(console(), "_color_system", None)
    out = _cli(monkeypatch, width, "simulate", str(SKINCARE), "--days", "5",
               "--start", "2026-12-02")
    _fits(out, width)
    assert "…" not in out


@pytest.mark.parametrize("width", [80, 120])
def test_rules_fit(monkeypatch: pytest.MonkeyPatch, lang: str, width: int) -> None:
    out = _cli(monkeypatch, width, "rules")
    _fits(out, width)
    assert "…" not in out and "SOP504" in out


def test_narrow_terminal_goes_vertical_without_losing_anything(
        monkeypatch: pytest.MonkeyPatch) -> None:
    out = _cli(monkeypatch, 50, "agenda", str(SKINCARE), "--from", "2026-12-02", "-n", "1",
               "-g", "g004")
    _fits(out, 50, tables_only=False)
    assert "┃" not in out  # one block per message
    for key in ("Asia/Shanghai", "UTC", "group", "slot", "kind", "channel", "text"):
        assert re.search(rf"^{re.escape(key)}\s", out, re.M), key
    assert "美肌VIP群001" in out


def test_layouts_from_wide_to_vertical() -> None:
    cols = [Col("time"), Col("UTC", under="time"), Col("group"), Col("text", wrap=True)]
    rows = [("12-02 周三 07:30", "12-01 23:30Z", "美肌福利群001", "早上好 " * 20)]
    wide = plan(cols, rows, 200)
    assert not wide.vertical and wide.groups == [[0], [1], [2], [3]]
    folded = plan(cols, rows, 80)  # the text folds, nothing stacks
    assert folded.groups == [[0], [1], [2], [3]] and folded.widths[3] < 140
    stacked = plan(cols, rows, 50)
    assert stacked.groups == [[0, 1], [2], [3]]
    assert sum(stacked.widths) + 3 * 2 <= 50
    assert plan(cols, rows, 30).vertical


# ---------------------------------------------------------------- time: shown and typed

def test_stamp_labels_the_zone() -> None:
    t = datetime(2026, 12, 1, 23, 30, tzinfo=UTC)
    assert stamp(t, "Asia/Shanghai") == "2026-12-02 07:30 Asia/Shanghai"
    assert stamp(t, None) == "2026-12-01 23:30 UTC"


@pytest.mark.parametrize(("typed", "tz", "utc"), [
    ("2026-12-02T10:00", "Asia/Shanghai", "2026-12-02T02:00:00+00:00"),
    ("2026-12-02 10:00", "Asia/Shanghai", "2026-12-02T02:00:00+00:00"),
    ("2026-12-02T10:00+00:00", "Asia/Shanghai", "2026-12-02T10:00:00+00:00"),
    ("2026-12-02T10:00Z", "Asia/Shanghai", "2026-12-02T10:00:00+00:00"),
    ("2026-12-02", "Asia/Shanghai", "2026-12-01T16:00:00+00:00"),
    ("2026-12-02T10:00", None, "2026-12-02T10:00:00+00:00"),
    # DST, as the plan does it: a repeated time is its first instance, a missing one moves on
    ("2026-11-01T01:30", "America/New_York", "2026-11-01T05:30:00+00:00"),
    ("2026-03-08T02:30", "America/New_York", "2026-03-08T07:00:00+00:00"),
])
def test_a_date_time_without_offset_is_read_in_the_playbook_zone(typed: str, tz: str | None,
                                                                 utc: str) -> None:
    now = datetime(2026, 12, 2, 12, tzinfo=UTC)
    assert parse_instant(typed, tz=tz, now=now).isoformat() == utc


def test_durations_and_words() -> None:
    now = datetime(2026, 12, 2, 3, 0, tzinfo=UTC)  # 11:00 in Shanghai
    assert parse_instant("24h", tz="Asia/Shanghai", now=now) == datetime(2026, 12, 1, 3,
                                                                          tzinfo=UTC)
    assert parse_instant("90", tz=None, now=now) == datetime(2026, 12, 2, 1, 30, tzinfo=UTC)
    assert parse_instant("1w", tz=None, now=now) == datetime(2026, 11, 25, 3, tzinfo=UTC)
    assert parse_instant("today", tz="Asia/Shanghai", now=now) == datetime(
        2026, 12, 1, 16, tzinfo=UTC)
    assert parse_instant("yesterday", tz="Asia/Shanghai", now=now) == datetime(
        2026, 11, 30, 16, tzinfo=UTC)
    assert parse_instant("", tz=None, now=now) is None
    with pytest.raises(UsageError, match="--since 'tomorrowish'"):
        parse_instant("tomorrowish", tz="Asia/Shanghai", now=now)
    assert resolve_wall(datetime(2026, 12, 2, 8), "Asia/Shanghai") == datetime(
        2026, 12, 2, 0, tzinfo=UTC)


def test_history_since_is_read_in_the_playbook_zone(monkeypatch: pytest.MonkeyPatch,
                                                    ledger_dir: Path) -> None:
    out = _cli(monkeypatch, 120, "history", "--state-dir", str(ledger_dir), "--playbook",
               str(SKINCARE), "-f", "json", "--since", "2026-12-02T11:00")
    rows = [json.loads(line) for line in out.splitlines()]
    assert rows and all(r["scheduled_utc"] >= "2026-12-02T03:00" for r in rows)
    assert all(r["scheduled_local"].endswith("+08:00") for r in rows)
    assert all(r["timezone"] == "Asia/Shanghai" for r in rows)
    # the same words in UTC give a different answer: the zone is not ignored
    out_utc = _cli(monkeypatch, 120, "history", "--state-dir", str(ledger_dir), "-f", "json",
                   "--since", "2026-12-02T11:00")
    assert out_utc.strip() == ""


def test_help_says_how_a_date_time_is_read() -> None:
    for cmd in ("run", "history"):
        result = CliRunner().invoke(app, [cmd, "--help"], env={"COLUMNS": "200"})
        assert "read in the playbook's timezone" in " ".join(result.output.split())


# ---------------------------------------------------------------- CSV for Excel

def test_csv_file_has_a_bom_and_stdout_has_none(monkeypatch: pytest.MonkeyPatch,
                                                tmp_path: Path, ledger_dir: Path) -> None:
    f = tmp_path / "h.csv"
    _cli(monkeypatch, 120, "history", "--state-dir", str(ledger_dir), "--playbook",
         str(SKINCARE), "-f", "csv", "-o", str(f))
    raw = f.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")
    rows = list(csv.DictReader(io.StringIO(raw.decode("utf-8-sig"))))
    assert rows[0]["playbook"] == "美肌福利群" and rows[0]["timezone"] == "Asia/Shanghai"
    assert rows[0]["scheduled_utc"].endswith("+00:00")
    piped = _cli(monkeypatch, 120, "history", "--state-dir", str(ledger_dir), "-f", "csv")
    assert piped.startswith("scheduled_utc,")
    bom = _cli(monkeypatch, 120, "history", "--state-dir", str(ledger_dir), "-f", "csv",
               "--bom")
    assert bom.startswith("\ufeffscheduled_utc,")
    g = tmp_path / "a.csv"
    _cli(monkeypatch, 120, "agenda", str(SKINCARE), "-f", "csv", "-o", str(g))
    assert g.read_bytes().startswith(b"\xef\xbb\xbfkey,")
    h = tmp_path / "b.csv"
    _cli(monkeypatch, 120, "agenda", str(SKINCARE), "-f", "csv", "-o", str(h), "--no-bom")
    assert h.read_bytes().startswith(b"key,")
    assert _cli(monkeypatch, 120, "agenda", str(SKINCARE), "-f", "csv").startswith("key,")
    s = tmp_path / "s.csv"
    _cli(monkeypatch, 120, "simulate", str(SKINCARE), "--days", "2", "-f", "csv", "-o", str(s))
    assert s.read_bytes().startswith(b"\xef\xbb\xbfday,")
    sim = _cli(monkeypatch, 120, "simulate", str(SKINCARE), "--days", "2", "-f", "csv")
    assert sim.startswith("day,")
    assert _cli(monkeypatch, 120, "simulate", str(SKINCARE), "--days", "2", "-f", "csv",
                "--bom").startswith("\ufeffday,")
    j = tmp_path / "s.json"
    _cli(monkeypatch, 120, "simulate", str(SKINCARE), "--days", "2", "-f", "json", "-o", str(j))
    assert j.read_text(encoding="utf-8").startswith("{")


def test_excel_reads_the_bom_file_as_utf8(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                          ledger_dir: Path) -> None:
    """openpyxl is not Excel, but Excel's rule is documented: UTF-8 only with the BOM. Here the
    bytes are checked to decode as UTF-8-with-BOM and *not* as GB18030 to the same text."""
    f = tmp_path / "h.csv"
    _cli(monkeypatch, 120, "history", "--state-dir", str(ledger_dir), "-f", "csv", "-o", str(f))
    raw = f.read_bytes()
    text = raw.decode("utf-8-sig")
    assert "美肌福利群" in text
    assert raw.decode("gb18030", errors="replace") != text  # why the BOM matters


def test_without_a_playbook_times_say_utc(monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
                                          ledger_dir: Path) -> None:
    monkeypatch.chdir(tmp_path)  # no playbook here
    for cmd in (["status"], ["history"]):
        out = _cli(monkeypatch, 80, *cmd, "--state-dir", str(ledger_dir),
                   env={"SOPCTL_NOW": "2026-12-02T03:10:00Z"})
        _fits(out, 80)
        assert "UTC" in _headers(out) and "Asia/Shanghai" not in out
        assert "12-02 03:00" in out  # 11:00 Shanghai, shown as what it is in UTC


@pytest.mark.parametrize("width", [50, 80, 120])
def test_compare_fits_and_keeps_every_figure(monkeypatch: pytest.MonkeyPatch, lang: str,
                                             width: int) -> None:
    out = _cli(monkeypatch, width, "simulate", str(SKINCARE), "--days", "5", "--start",
               "2026-12-02", "--what-if", "no-welcome")
    _fits(out, width)
    assert "…" not in out
    # every stage's label whole (folded lines joined), whatever the layout
    first = "".join(line.split("│")[0].strip() for line in out.splitlines()).replace(" ", "")
    for stage in ("中转群(VIP福利群)", "核心群(消费满500元或办理会员卡)"):
        assert stage in first, stage


def test_calibrate_tables_fit(monkeypatch: pytest.MonkeyPatch, lang: str) -> None:
    # a fit takes seconds: the narrow width only (120 lays out the same rows), the last
    # ten weeks and one simulated history per trial (the tables are the same)
    width = 80
    data = ROOT / "examples" / "calibrate" / "skincare-wecom-stats.csv"
    out = _cli(monkeypatch, width, "calibrate", str(SKINCARE), "--from", str(data),
               "--holdout", "14", "--runs", "1", "--since", "2026-08-15")
    _fits(out, width)
    assert "…" not in out and "join_scale" in out and "speak_scale" in out
