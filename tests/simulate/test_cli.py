"""`sopctl simulate` end to end: determinism, formats, warnings, errors and --compare."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from sopctl.main import app

from ._sim import STANDARD

BASE = ["simulate", str(STANDARD), "--start", "2026-12-01"]


def sim(*args: str) -> tuple[int, str]:
    r = CliRunner().invoke(app, [*BASE, *args])
    return r.exit_code, r.stdout


def write(tmp_path: Path, name: str, data: dict) -> Path:
    p = tmp_path / name
    p.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    return p


def standard_data() -> dict:
    return yaml.safe_load(STANDARD.read_text(encoding="utf-8"))


def test_same_seed_gives_byte_identical_json_and_another_seed_differs() -> None:
    args = ("--days", "20", "--runs", "3", "--format", "json", "--param",
            "default_daily_joins=30")
    code_a, a = sim(*args, "--seed", "5")
    code_b, b = sim(*args, "--seed", "5")
    code_c, c = sim(*args, "--seed", "6")
    assert code_a == code_b == code_c == 0
    assert a == b
    assert a != c


def test_json_has_days_summary_warnings_params() -> None:
    code, out = sim("--days", "10", "--runs", "5", "--format", "json")
    assert code == 0
    doc = json.loads(out)
    assert set(doc) == {"days", "summary", "warnings", "params"}
    assert [d["day"] for d in doc["days"]] == list(range(1, 11))
    d = doc["days"][0]
    for field in ("day", "date", "members", "joins", "leaves", "active", "ops_messages",
                  "conversions", "revenue", "groups_open"):
        assert field in d
    assert d["date"] == "2026-12-01" and set(d["conversions"]) == {"pond", "transit", "core",
                                                                     "sales"}
    lo, hi = d["bands"]["members"]
    assert lo <= d["members"] <= hi
    assert doc["summary"]["runs"] == 5 and doc["params"]["engagement_decay"] == 0.15
    # operations on day 1: morning, knowledge, interaction, red packet, backstage, course
    assert d["ops_messages"] == 6


def test_csv_columns_and_rows() -> None:
    code, out = sim("--days", "4", "--format", "csv")
    assert code == 0
    rows = list(csv.DictReader(io.StringIO(out)))
    assert len(rows) == 4 and rows[3]["date"] == "2026-12-04"
    assert {"conversions_transit", "revenue", "groups_open"} <= set(rows[0])


def test_table_shows_funnel_sparklines_and_cjk() -> None:
    code, out = sim("--days", "7")
    assert code == 0
    assert "Funnel" in out and "中转群" in out
    assert any(ch in out for ch in "▁▂▃▄▅▆▇█")


def test_warns_when_groups_fill_and_when_days_have_no_operation(tmp_path: Path) -> None:
    data = standard_data()
    data["timetable"] = [s for s in data["timetable"] if s["id"] == "course"]
    data["timetable"][0]["course"] = data["timetable"][0]["course"][:7]
    data["acquisition"] = [{"name": "门店", "daily": 60}]
    p = write(tmp_path, "short.yaml", data)
    r = CliRunner().invoke(app, ["simulate", str(p), "--start", "2026-12-01", "--days", "14",
                                 "--format", "json"])
    assert r.exit_code == 0, r.stdout
    warnings = json.loads(r.stdout)["warnings"]
    assert "days 8–14 have no operation: the group will go quiet" in warnings
    assert any("美肌福利群001 reaches 200 on day 1: prepare 美肌福利群002" in w for w in warnings)


def test_playbook_override_and_cli_param(tmp_path: Path) -> None:
    data = standard_data()
    data["simulation"] = {"speak_scale": 0.0}
    p = write(tmp_path, "mute.yaml", data)
    r = CliRunner().invoke(app, ["simulate", str(p), "--days", "3", "-f", "json"])
    assert r.exit_code == 0
    assert all(d["active"] == 0 for d in json.loads(r.stdout)["days"])
    from sopctl.errors import UsageError

    for bad in ("no_such=1", "speak_scale"):
        r = CliRunner().invoke(app, [*BASE, "--param", bad])
        assert isinstance(r.exception, UsageError) and r.exception.exit_code == 2


def test_playbook_with_errors_prints_findings_and_exits_1(tmp_path: Path) -> None:
    p = tmp_path / "bad.yaml"
    p.write_text("name: x\ntimezone: Mars/Olympus\n", encoding="utf-8")
    r = CliRunner().invoke(app, ["simulate", str(p)])
    assert r.exit_code == 1
    assert "SOP013" in r.output or "SOP011" in r.output


def test_bad_start_is_a_usage_error() -> None:
    from sopctl.errors import UsageError

    r = CliRunner().invoke(app, [*BASE, "--start", "tomorrow"])
    assert isinstance(r.exception, UsageError)


def test_default_playbook_is_found_in_the_directory(tmp_path: Path,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "sopctl.yaml").write_text(STANDARD.read_text(encoding="utf-8"), "utf-8")
    monkeypatch.chdir(tmp_path)
    r = CliRunner().invoke(app, ["simulate", "--days", "2", "-f", "json"])
    assert r.exit_code == 0 and len(json.loads(r.stdout)["days"]) == 2


def test_compare_runs_both_with_the_same_seed(tmp_path: Path) -> None:
    data = standard_data()
    data["timetable"] = []
    empty = write(tmp_path, "empty.yaml", data)
    code, out = sim("--days", "21", "--compare", str(empty), "--format", "json")
    assert code == 0
    doc = json.loads(out)
    assert doc["delta"]["active_rate_last_week"] < -0.05  # no operations: far quieter
    assert doc["delta"]["ops_messages"] == doc["b"]["ops_messages"] - doc["a"]["ops_messages"]
    assert doc["b"]["ops_messages"] < doc["a"]["ops_messages"] / 20  # welcomes only
    # A against itself: nothing differs, since both draw from the same seed
    code, out = sim("--days", "7", "--compare", str(STANDARD), "--format", "json")
    assert all(v == 0 for v in json.loads(out)["delta"].values())
    code, out = sim("--days", "7", "--compare", str(empty))
    assert code == 0 and "delta" in out and "empty.yaml" in out


def test_groups_beyond_the_inventory_are_full_entry_stage_groups(tmp_path: Path) -> None:
    data = standard_data()
    data["groups"] = [{"id": "g001", "name": "美肌福利群001", "stage": "pond",
                       "opened": "2026-11-01", "members": 120},
                      {"id": "g002", "name": "美肌会员群001", "stage": "core",
                       "opened": "2026-11-05", "members": 50}]
    data["simulation"] = {"share_rate": 0}  # no referral may open a sixth group
    p = write(tmp_path, "inv.yaml", data)
    r = CliRunner().invoke(app, ["simulate", str(p), "--start", "2026-12-01", "--days", "1",
                                 "--groups", "5", "-f", "json"])
    assert r.exit_code == 0, r.output
    doc = json.loads(r.stdout)
    assert doc["summary"]["members_start"] == 120 + 50 + 3 * 200
    assert doc["days"][0]["groups_open"] == 5
    ends = {f["stage"]: f["members_end"] for f in doc["summary"]["funnel"]}
    assert ends["core"] <= 50 and ends["pond"] >= 700  # new groups take newcomers


def test_what_if_compares_with_the_edited_playbook() -> None:
    code, out = sim("--days", "21", "--what-if", "no-operations", "--format", "json")
    assert code == 0
    doc = json.loads(out)
    assert doc["delta"]["active_rate_last_week"] < -0.05  # an emptied timetable goes quiet
    assert doc["b"]["ops_messages"] < doc["a"]["ops_messages"] / 20  # welcomes only
    code, out = sim("--days", "7", "--what-if", "no-welcome")
    assert code == 0 and "no welcome" in out and "members at the end" in out
    from sopctl.errors import UsageError

    for bad in (["--what-if", "no-such"], ["--what-if", "no-welcome", "--compare",
                                           str(STANDARD)]):
        r = CliRunner().invoke(app, [*BASE, *bad])
        assert isinstance(r.exception, UsageError) and r.exception.exit_code == 2, bad


def test_what_if_with_nothing_to_change_is_a_usage_error(tmp_path: Path) -> None:
    data = standard_data()
    data.pop("welcome")
    p = write(tmp_path, "bare.yaml", data)
    r = CliRunner().invoke(app, ["simulate", str(p), "--what-if", "no-welcome"])
    from sopctl.errors import UsageError

    assert isinstance(r.exception, UsageError) and "nothing to change" in r.exception.message
