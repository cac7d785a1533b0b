"""YAML merge keys: shared slot defaults with ``<<: *defaults`` (and ``<<: [*a, *b]``),
the mapping's own keys winning, and every error still located where it is written."""

from __future__ import annotations

from sopctl.playbook.loader import Loaded, load_playbook

HEAD = """\
name: 美肌福利群
timezone: Asia/Shanghai
positioning: {type: product, purpose: 变美, name_pattern: "美肌福利群{n:03}"}
groups: [{id: g001, opened: 2026-11-01}]
"""
NEXT = HEAD.count("\n") + 1


def load(text: str) -> Loaded:
    return load_playbook("pb.yaml", (HEAD + text).encode())


def test_merged_defaults_and_own_keys_win() -> None:
    got = load("""\
x-defaults: &slot
  kind: knowledge
  grace: 10m
  quiet: drop
timetable:
  - <<: *slot
    id: a
    at: "08:00"
    text: 早
  - <<: *slot
    id: b
    at: "09:00"
    quiet: defer
    text: 午
""")
    # x-defaults is an unknown key: the only finding, at its own line
    assert [(f.line, f.code) for f in got.findings] == [(NEXT, "SOP010")]


def _playbook(text: str):
    got = load(text)
    assert got.ok, [f.short() for f in got.findings]
    return got.playbook


def test_merge_values_are_used() -> None:
    pb = _playbook("""\
timetable:
  - &base {id: a, kind: knowledge, at: "08:00", grace: 10m, quiet: drop, text: 早}
  - <<: *base
    id: b
    quiet: defer
""")
    a, b = pb.timetable
    assert (b.id, b.kind, b.at, b.grace, b.quiet, b.text) == ("b", "knowledge", "08:00", "10m",
                                                              "defer", "早")
    assert a.quiet == "drop"


def test_a_list_of_merges_earlier_wins() -> None:
    pb = _playbook("""\
timetable:
  - &a {id: a, kind: knowledge, at: "08:00", text: A}
  - &b {id: b, kind: interaction, at: "09:00", text: B, format: markdown}
  - <<: [*a, *b]
    id: c
""")
    c = pb.timetable[2]
    assert (c.kind, c.at, c.text, c.format) == ("knowledge", "08:00", "A", "markdown")


def test_nested_merges() -> None:
    pb = _playbook("""\
timetable:
  - &a {id: a, kind: knowledge, at: "08:00", text: A}
  - &b {<<: *a, id: b, text: B}
  - {<<: *b, id: c}
""")
    assert [(s.id, s.text, s.at) for s in pb.timetable] == [("a", "A", "08:00"),
                                                              ("b", "B", "08:00"),
                                                              ("c", "B", "08:00")]


def test_an_error_in_merged_defaults_points_where_it_is_written() -> None:
    got = load("""\
timetable:
  - &base
    id: a
    kind: knowledge
    at: "08:00"
    grace: 10 minutes
    text: 早
  - <<: *base
    id: b
""")
    assert not got.ok
    # both slots inherit the bad grace: both findings point at line NEXT+5, where it is written
    marks = {(f.line, f.column, f.code) for f in got.findings}
    assert marks == {(NEXT + 5, 12, "SOP012")}, [f.short() for f in got.findings]


def test_a_template_problem_in_merged_text_is_located_in_the_anchor() -> None:
    from sopctl.lint.config import LintConfig
    from sopctl.lint.engine import lint_loaded

    got = load("""\
timetable:
  - &base {id: a, kind: knowledge, at: "08:00", text: "早安 {group_name.upper}"}
  - <<: *base
    id: b
""")
    found = [f for f in lint_loaded(got, LintConfig(), env={}) if f.code == "SOP103"]
    assert {(f.line, f.column) for f in found} == {(NEXT + 1, 59)}, [f.short() for f in found]


def test_a_merge_of_a_scalar_or_a_list_of_scalars_is_refused() -> None:
    for value in ("*x", "[*x]"):
        got = load(f"anchor: &x 早\ntimetable:\n  - {{<<: {value}, id: a}}\n")
        assert any(f.code == "SOP001" and f.line == NEXT + 2 and "<<" in f.message
                   for f in got.findings), [f.short() for f in got.findings]


def test_a_quoted_merge_key_is_an_ordinary_key() -> None:
    got = load('timetable:\n  - {"<<": 1, id: a, kind: k, at: "08:00", text: x}\n')
    assert [(f.line, f.code) for f in got.findings] == [(NEXT + 1, "SOP010")]
