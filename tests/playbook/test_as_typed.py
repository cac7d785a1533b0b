"""A value typed into a text field reaches the model as typed, whatever YAML reads."""

from __future__ import annotations

from sopctl.playbook.loader import is_text_path, load_playbook

PB = """\
name: 2024
timezone: Asia/Shanghai
positioning: {type: product, purpose: 1e3, name_pattern: "美肌福利群{n:03}", capacity: 200}
variables: {coupon: 0520, big: 1e3, flag: true, clock: 00:30, word: yes, neg: -0, plain: 12}
auto_replies:
  - {keywords: [0520, +86], reply: 0520}
content:
  code: 0520
timetable:
  - {id: a, kind: k, at: "08:00", text: 007, days: [1, 3]}
groups:
  - {id: g001, name: 0520, number: 7, opened: 2026-11-01, members: 20}
"""


def test_text_fields_keep_what_was_typed() -> None:
    got = load_playbook("pb.yaml", PB.encode())
    assert got.ok, [f.short() for f in got.findings]
    pb = got.playbook
    assert pb.name == "2024" and pb.positioning.purpose == "1e3"
    assert pb.variables == {"coupon": "0520", "big": "1e3", "flag": "true", "clock": "00:30",
                            "word": "yes", "neg": "-0", "plain": "12"}
    assert pb.auto_replies[0].keywords == ["0520", "+86"] and pb.auto_replies[0].reply == "0520"
    assert pb.content["code"].text == "0520"
    assert pb.timetable[0].text == "007" and pb.timetable[0].days == [1, 3]
    g = pb.groups[0]
    assert (g.name, g.number, g.members) == ("0520", 7, 20)
    assert pb.positioning.capacity == 200


def test_which_paths_are_text() -> None:
    assert is_text_path(("variables", "x"))
    assert is_text_path(("auto_replies", 0, "keywords", 1))
    assert is_text_path(("content", "x"))  # a content item's text shorthand
    assert is_text_path(("groups", 3, "name"))
    assert not is_text_path(("groups", 3, "number"))
    assert not is_text_path(("caps", "per_group_per_day"))
    assert not is_text_path(("timetable", 0, "days", 0))  # weekday numbers stay numbers
    assert not is_text_path(("no_such_key",))
