"""The loader locates every problem: path:line:col and a code, for each class of error,
and hostile input is harmless."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

from sopctl.findings import Finding
from sopctl.main import app
from sopctl.playbook.loader import Loaded, load_playbook
from sopctl.playbook.source import MAX_BYTES, MAX_DEPTH
from sopctl.playbook.timeparse import parse_window

BASE = """\
version: 1
name: 美肌福利群
timezone: Asia/Shanghai
positioning:
  type: product
  purpose: 跟着我一起变美
  name_pattern: "美肌福利群{n:03}"
"""
NEXT = BASE.count("\n") + 1  # the first line after BASE


def load(text: str | bytes, name: str = "pb.yaml") -> Loaded:
    raw = text.encode("utf-8") if isinstance(text, str) else text
    return load_playbook(name, raw)


def where(loaded: Loaded) -> list[tuple[int, int, str]]:
    return [(f.line, f.column, f.code) for f in loaded.findings]


def only(loaded: Loaded) -> Finding:
    assert len(loaded.findings) == 1, [f.short() for f in loaded.findings]
    return loaded.findings[0]


def test_base_is_valid() -> None:
    loaded = load(BASE)
    assert loaded.ok and loaded.findings == []


# --------------------------------------------------------------------------- error classes

def test_yaml_syntax_error_is_located() -> None:
    f = only(load(BASE + "timetable:\n  - id: a\n   kind: b\n"))
    assert (f.line, f.code) == (NEXT + 2, "SOP001") and "YAML syntax" in f.message


def test_unclosed_bracket_points_at_the_bracket_not_the_end() -> None:
    f = only(load(BASE + "timetable: [\n  {id: 秒杀, at: \"20:00\"\n"))
    assert (f.line, f.column, f.code) == (NEXT + 1, 3, "SOP001")


def test_tab_indentation_says_so() -> None:
    f = only(load(BASE + "roles:\n\towner: x\n"))
    assert (f.line, f.column, f.code) == (NEXT + 1, 1, "SOP001") and "tabs" in f.message


def test_duplicate_keys_reported_in_both_places() -> None:
    loaded = load(BASE + "name: 又一个名字\n")
    assert sorted(where(loaded)) == [(2, 1, "SOP003"), (NEXT, 1, "SOP003")]
    assert all("duplicate key 'name'" in f.message for f in loaded.findings)
    nested = load(BASE + "timetable:\n  - {id: a, kind: k, at: '07:00', id: b}\n")
    assert sorted(where(nested)) == [(NEXT + 1, 6, "SOP003"), (NEXT + 1, 35, "SOP003")]


def test_unknown_key_with_did_you_mean() -> None:
    loaded = load(BASE.replace("  purpose:", "  purpse:"))
    assert where(loaded) == [(4, 1, "SOP011"), (6, 3, "SOP010")]  # the typo, and what's missing
    f = loaded.findings[1]
    assert "unknown key 'purpse'" in f.message and "did you mean 'purpose'" in f.message


def test_unknown_key_far_from_any_lists_the_known_ones() -> None:
    f = only(load(BASE + "caps:\n  完全不同: 3\n"))
    assert (f.line, f.column, f.code) == (NEXT + 1, 3, "SOP010")
    assert f.hint and "per_group_per_day" in f.hint


def test_wrong_type_points_at_the_value() -> None:
    f = only(load(BASE + "caps:\n  per_group_per_day: 很多\n"))
    assert (f.line, f.column, f.code) == (NEXT + 1, 22, "SOP012")
    assert f.message.startswith("caps.per_group_per_day:")


def test_wrong_type_inside_a_list() -> None:
    f = only(load(BASE + "auto_replies:\n  - keywords: 福利\n    reply: 有\n"))
    assert (f.line, f.column, f.code) == (NEXT + 1, 15, "SOP012")


def test_missing_field_points_at_the_parent_mapping() -> None:
    f = only(load(BASE + "timetable:\n  - id: morning\n    at: '07:30'\n"))
    assert (f.line, f.column, f.code) == (NEXT + 1, 5, "SOP011")
    assert "missing required key 'kind' in timetable[0]" in f.message
    f = only(load(BASE.replace('  name_pattern: "美肌福利群{n:03}"\n', "")))
    assert (f.line, f.column, f.code) == (4, 1, "SOP011") and "positioning" in f.message


def test_missing_top_level_field_points_at_the_start() -> None:
    f = only(load(BASE.replace("name: 美肌福利群\n", "")))
    assert (f.line, f.column, f.code) == (1, 1, "SOP011") and "'name'" in f.message


def test_bad_timezone() -> None:
    f = only(load(BASE.replace("Asia/Shanghai", "Asia/Beijing")))
    assert (f.line, f.column, f.code) == (3, 11, "SOP013")
    assert "Asia/Beijing" in f.message and "Asia/Shanghai" in f.message


def test_bad_cron() -> None:
    f = only(load(BASE + "timetable:\n  - {id: a, kind: k, cron: '61 * * * *'}\n"))
    assert (f.line, f.column, f.code) == (NEXT + 1, 28, "SOP014") and "61" in f.message


@pytest.mark.parametrize(("value", "col"), [('"25:00"', 9), ('"13:00-12:00"', 9), ("早上", 9)])
def test_bad_time(value: str, col: int) -> None:
    f = only(load(BASE + f"timetable:\n  - id: a\n    kind: k\n    at: {value}\n"))
    assert (f.line, f.column, f.code) == (NEXT + 3, col, "SOP015")


def test_bad_quiet_hours_time() -> None:
    f = only(load(BASE + 'quiet_hours: {start: "22:30", end: "7点"}\n'))
    assert (f.line, f.column, f.code) == (NEXT, 36, "SOP015")


# --------------------------------------------------------------------------- YAML 1.1 traps

def test_unquoted_7_30_is_a_clock_time_not_450() -> None:
    loaded = load(BASE + "timetable:\n  - {id: a, kind: k, at: 7:30}\n")
    assert loaded.ok, [f.short() for f in loaded.findings]
    at = loaded.playbook.timetable[0].at
    assert at == "7:30"
    start, _end = parse_window(at)
    assert (start.hour, start.minute) == (7, 30)


def test_450_is_reported_with_the_fix() -> None:
    f = only(load(BASE + "timetable:\n  - {id: a, kind: k, at: 450}\n"))
    assert (f.line, f.column, f.code) == (NEXT + 1, 26, "SOP015")
    assert '"07:30"' in f.message and "450" in f.message


@pytest.mark.parametrize("word", ["no", "off", "yes", "on", "NO", "Off"])
def test_no_off_stay_strings_where_a_string_is_expected(word: str) -> None:
    loaded = load(BASE + f"variables: {{offer: {word}}}\n"
                  f"timetable:\n  - {{id: {word}, kind: k, at: '07:30', text: {word}}}\n")
    assert loaded.ok, [f.short() for f in loaded.findings]
    pb = loaded.playbook
    assert pb.variables["offer"] == word
    assert pb.timetable[0].id == word and pb.timetable[0].text == word


def test_plain_true_false_still_booleans() -> None:
    loaded = load(BASE + "rules: {blacklist: false}\n")
    assert loaded.ok and loaded.playbook.rules.blacklist is False


def test_dates_parse_and_bad_dates_are_located() -> None:
    loaded = load(BASE + "groups:\n  - {id: g1, opened: 2026-11-01}\n")
    assert loaded.ok and loaded.playbook.groups[0].opened.isoformat() == "2026-11-01"
    f = only(load(BASE + "groups:\n  - {id: g1, opened: 2026-02-30}\n"))
    assert (f.line, f.column, f.code) == (NEXT + 1, 22, "SOP012") and "opened" in f.message
    f = only(load(BASE + "groups:\n  - {id: g1, opened: 11/01/2026}\n"))
    assert (f.line, f.column, f.code) == (NEXT + 1, 22, "SOP012")


def test_a_date_where_a_string_is_expected_stays_text() -> None:
    loaded = load(BASE + "variables: {offer: 2026-11-11}\n")
    assert loaded.ok and loaded.playbook.variables["offer"] == "2026-11-11"


# --------------------------------------------------------------------------- hostile input

def _laughs(levels: int = 9) -> str:
    lines = ['a0: &a0 ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    for i in range(1, levels + 1):
        refs = ",".join([f"*a{i - 1}"] * 9)
        lines.append(f"a{i}: &a{i} [{refs}]")
    return "\n".join(lines) + "\n"


def test_billion_laughs_is_a_finding_and_quick() -> None:
    start = time.perf_counter()
    loaded = load(_laughs())
    elapsed = time.perf_counter() - start
    f = only(loaded)
    assert f.code == "SOP001" and "alias" in f.message
    assert elapsed < 5  # loosely: the real figure is in benchmarks/


def test_small_aliases_are_fine() -> None:
    loaded = load(BASE + "variables:\n  offer: &o 新人立减5元\n  promo: *o\n")
    assert loaded.ok and loaded.playbook.variables["promo"] == "新人立减5元"


def test_size_cap() -> None:
    f = only(load(b"# " + b"x" * MAX_BYTES + b"\n"))
    assert (f.line, f.column, f.code) == (1, 1, "SOP001") and "limit" in f.message


def test_binary_input() -> None:
    f = only(load(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR"))
    assert f.code == "SOP001" and "binary" in f.message


def test_gbk_bytes_located_at_the_first_bad_byte() -> None:
    f = only(load("version: 1\nname: 美肌福利群\n".encode("gbk")))
    assert (f.line, f.column, f.code) == (2, 7, "SOP001") and "UTF-8" in f.message


def test_utf8_bom_is_accepted() -> None:
    assert load(b"\xef\xbb\xbf" + BASE.encode("utf-8")).ok


def test_deep_nesting() -> None:
    depth = MAX_DEPTH * 3
    f = only(load("a: " + "[" * depth + "]" * depth + "\n"))
    assert f.code == "SOP001" and "deep" in f.message and f.line == 1


def test_very_deep_nesting_does_not_overflow() -> None:
    f = only(load("a: " + "[" * 20000 + "]" * 20000 + "\n"))
    assert f.code == "SOP001"


def test_multi_document() -> None:
    f = only(load(BASE + "---\nname: 第二个\n"))
    assert (f.line, f.column, f.code) == (NEXT + 1, 1, "SOP001") and "more than one" in f.message


def test_python_tags_never_run(tmp_path: Path) -> None:
    marker = tmp_path / "pwned"
    text = BASE + f"variables: !!python/object/apply:os.system ['touch {marker}']\n"
    f = only(load(text))
    assert (f.line, f.column, f.code) == (NEXT, 12, "SOP001") and "python" in f.message
    assert not marker.exists()


@pytest.mark.parametrize("tag", ["!foo", "!!set", "!!binary", "!!timestamp"])
def test_unknown_tags(tag: str) -> None:
    f = only(load(BASE + f"variables: {{offer: {tag} x}}\n"))
    assert (f.line, f.code) == (NEXT, "SOP001") and "tag" in f.message


def test_a_merge_key_of_a_scalar_is_refused() -> None:  # merges: test_merge_keys.py
    f = only(load(BASE + "content:\n  a: &a 你好\n  b:\n    <<: *a\n"))
    assert (f.line, f.column, f.code) == (NEXT + 3, 5, "SOP001") and "<<" in f.message


@pytest.mark.parametrize(("text", "code"), [("", "SOP002"), ("- a\n- b\n", "SOP002"),
                                            ("就一句话\n", "SOP002"), ("{a: 1}: b\n", "SOP001")])
def test_not_a_mapping(text: str, code: str) -> None:
    f = only(load(text))
    assert (f.line, f.code) == (1, code)


# --------------------------------------------------------------------------- inventory file

INVENTORY_REF = BASE + "groups: groups.yaml\n"


def test_inventory_file_is_loaded(tmp_path: Path) -> None:
    (tmp_path / "pb.yaml").write_text(INVENTORY_REF, encoding="utf-8")
    (tmp_path / "groups.yaml").write_text(
        "groups:\n  - {id: g001, name: 美肌福利群001, opened: 2026-11-01}\n", encoding="utf-8")
    loaded = load_playbook(str(tmp_path / "pb.yaml"))
    assert loaded.ok and loaded.playbook.groups[0].id == "g001"
    assert loaded.groups_path == str(tmp_path / "groups.yaml")


def test_inventory_errors_are_located_in_the_inventory(tmp_path: Path) -> None:
    (tmp_path / "pb.yaml").write_text(INVENTORY_REF, encoding="utf-8")
    inv = tmp_path / "groups.yaml"
    inv.write_text("groups:\n  - {id: g001, opened: 2026-11-01}\n"
                   "  - {id: g002, opend: 2026-11-02}\n", encoding="utf-8")
    loaded = load_playbook(str(tmp_path / "pb.yaml"))
    assert not loaded.ok
    paths = {f.path for f in loaded.findings}
    assert paths == {str(inv)}
    assert (3, 16, "SOP010") in where(loaded)
    assert (3, 5, "SOP011") in where(loaded)  # 'opened' missing: at the group's mapping


def test_playbook_and_inventory_errors_in_one_pass(tmp_path: Path) -> None:
    (tmp_path / "pb.yaml").write_text(INVENTORY_REF.replace("Asia/Shanghai", "Mars/Base"),
                                      encoding="utf-8")
    inv = tmp_path / "groups.yaml"
    inv.write_text("groups:\n  - {id: g001, opened: 2026-11-31}\n", encoding="utf-8")
    loaded = load_playbook(str(tmp_path / "pb.yaml"))
    got = sorted((Path(f.path).name, f.line, f.column, f.code) for f in loaded.findings)
    assert got == [("groups.yaml", 2, 24, "SOP012"), ("pb.yaml", 3, 11, "SOP013")]


@pytest.mark.parametrize(("text", "expected"), [
    ("grops:\n  - {id: g1, opened: 2026-11-01}\n", (1, 1, "SOP010")),
    ("groups: {id: g1}\n", (1, 9, "SOP012")),
    ("名字: 一个群\n", (1, 1, "SOP010")),
    ("就一句话\n", (1, 1, "SOP002")),
])
def test_inventory_shape(tmp_path: Path, text: str, expected: tuple[int, int, str]) -> None:
    (tmp_path / "pb.yaml").write_text(INVENTORY_REF, encoding="utf-8")
    (tmp_path / "groups.yaml").write_text(text, encoding="utf-8")
    loaded = load_playbook(str(tmp_path / "pb.yaml"))
    assert not loaded.ok
    assert expected in where(loaded)
    assert {f.path for f in loaded.findings} == {str(tmp_path / "groups.yaml")}


def test_inventory_as_a_bare_list(tmp_path: Path) -> None:
    (tmp_path / "pb.yaml").write_text(INVENTORY_REF, encoding="utf-8")
    (tmp_path / "groups.yaml").write_text("- {id: g1, opened: 2026-11-01}\n- {id: g2}\n",
                                          encoding="utf-8")
    loaded = load_playbook(str(tmp_path / "pb.yaml"))
    assert where(loaded) == [(2, 3, "SOP011")]


def test_inventory_syntax_error_and_missing_file(tmp_path: Path) -> None:
    (tmp_path / "pb.yaml").write_text(INVENTORY_REF, encoding="utf-8")
    f = only(load_playbook(str(tmp_path / "pb.yaml")))
    assert (f.path, f.line, f.column, f.code) == (str(tmp_path / "pb.yaml"), NEXT, 9, "SOP004")
    (tmp_path / "groups.yaml").write_text("groups: [\n", encoding="utf-8")
    f = only(load_playbook(str(tmp_path / "pb.yaml")))
    assert f.path == str(tmp_path / "groups.yaml") and f.code == "SOP001"


# --------------------------------------------------------------------------- inputs

def _cli(args: list[str], stdin: str | bytes | None = None) -> tuple[int, str]:
    result = CliRunner().invoke(app, args, input=stdin)
    assert not result.exception or isinstance(result.exception, SystemExit), result.exception
    return result.exit_code, result.stdout


def test_lint_a_directory(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "pbs").mkdir()
    (tmp_path / "pbs" / "ok.yaml").write_text(BASE, encoding="utf-8")
    (tmp_path / "pbs" / "bad.yml").write_text(BASE + "nme: x\n", encoding="utf-8")
    (tmp_path / "pbs" / "notes.txt").write_text("not: yaml: at all", encoding="utf-8")
    (tmp_path / "pbs" / ".hidden").mkdir()
    (tmp_path / "pbs" / ".hidden" / "x.yaml").write_text("[", encoding="utf-8")
    code, out = _cli(["lint", "pbs", "-f", "json", "--select", "SOP0"])
    items = json.loads(out)
    assert code == 1
    assert [(i["path"], i["line"], i["code"]) for i in items] == [
        (str(Path("pbs") / "bad.yml"), NEXT, "SOP010")]


def test_lint_the_examples_directory(monkeypatch: pytest.MonkeyPatch) -> None:
    root = Path(__file__).resolve().parents[2]
    monkeypatch.chdir(root)
    code, out = _cli(["lint", "examples/", "-f", "json", "--no-env"])
    items = json.loads(out)
    assert code in (0, 1) and code == (1 if any(i["severity"] == "error" for i in items) else 0)
    for i in items:  # every finding located in a file under examples/
        assert i["path"].startswith("examples") and i["line"] >= 1 and i["column"] >= 1
    code, out = _cli(["lint", "examples/minimal.yaml", "-f", "json", "--no-env"])
    assert (code, json.loads(out)) == (0, [])


def test_lint_stdin() -> None:
    code, out = _cli(["lint", "-", "-f", "json", "--select", "SOP0"], BASE + "nme: x\n")
    assert code == 1
    items = json.loads(out)
    assert [(i["path"], i["line"], i["column"], i["code"]) for i in items] == [
        ("<stdin>", NEXT, 1, "SOP010")]
    code, _out = _cli(["lint", "-", "--select", "SOP0"], BASE)
    assert code == 0


def test_lint_stdin_hostile_bytes() -> None:
    code, out = _cli(["lint", "-", "-f", "json"], "name: 美肌".encode("gbk"))
    assert code == 1 and json.loads(out)[0]["code"] == "SOP001"


def test_lint_inventory_errors_through_the_cli(tmp_path: Path,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    Path("pb.yaml").write_text(INVENTORY_REF, encoding="utf-8")
    Path("groups.yaml").write_text("groups:\n  - {id: g001, opened: 2026-13-01}\n",
                                   encoding="utf-8")
    code, out = _cli(["lint", ".", "-f", "json", "--select", "SOP0"])
    items = json.loads(out)
    assert code == 1
    assert [(i["path"], i["line"], i["column"]) for i in items] == [("groups.yaml", 2, 24)]


def test_missing_path_is_a_usage_error(tmp_path: Path) -> None:
    import subprocess
    import sys

    proc = subprocess.run([sys.executable, "-m", "sopctl", "lint", "没有这个文件.yaml"],
                          cwd=tmp_path, capture_output=True, timeout=60)
    assert proc.returncode == 2
    err = proc.stderr.decode("utf-8")
    assert "没有这个文件.yaml: no such file or directory" in err and "Traceback" not in err
