"""Metamorphic tests: edits of the shipped playbooks move the forecast the way the seeds say.

Each what-if (sopctl/simulate/whatif.py) is an edit of a playbook with the direction it
should move named outcomes, and the source of that direction. Every shipped playbook is
forecast with and without each edit that applies to it, with fixed seeds: the median of
RUNS runs over WINDOW, as `sopctl simulate --runs` reports it. Each expected outcome must
move in its direction by at least the what-if's minimum effect. docs/simulation.md's table
"What the forecast answers" must report exactly the sizes measured here.
"""

from __future__ import annotations

import re
from functools import cache
from pathlib import Path

import pytest

from sopctl.playbook.discover import document_kind
from sopctl.simulate.outcomes import OUTCOMES, label
from sopctl.simulate.whatif import (
    TABLE_RUNS,
    TABLE_SEED,
    TABLE_WINDOW,
    WHAT_IFS,
    Bench,
    edited_data,
    load_data,
)

ROOT = Path(__file__).resolve().parents[2]
PLAYBOOKS = sorted(p for p in (ROOT / "playbooks").glob("*.yaml")
                   if document_kind(p) == "playbook")
WINDOW, RUNS, SEED = TABLE_WINDOW, TABLE_RUNS, TABLE_SEED
# what a shipped playbook has nothing of: no slot to remove
NOT_APPLICABLE = {("no-weekly-flash-sale", "knowledge"), ("no-red-packets", "knowledge")}


@cache
def bench(path: Path) -> Bench:
    return Bench(str(path), WINDOW, RUNS, SEED)


def _applies(w, path: Path) -> bool:
    return edited_data(load_data(str(path)), w, WINDOW) is not None


CASES = [pytest.param(w, p, id=f"{w.id}-{p.stem}") for w in WHAT_IFS for p in PLAYBOOKS
         if (w.id, p.stem) not in NOT_APPLICABLE]


def test_there_are_playbooks_and_what_ifs() -> None:
    assert {p.stem for p in PLAYBOOKS} >= {"skincare", "fruit", "knowledge"}
    assert len(WHAT_IFS) >= 12 and len({w.id for w in WHAT_IFS}) == len(WHAT_IFS)
    for w in WHAT_IFS:
        assert w.expect and w.source and w.title
        for x in w.expect:  # every outcome is one `simulate --compare` names
            assert x.outcome.split(":")[0] in (*OUTCOMES, "converted_in"), x.outcome
            assert x.sign in (1, -1) and x.min_effect > 0


def test_applicability_is_what_the_playbooks_hold() -> None:
    missing = {(w.id, p.stem) for w in WHAT_IFS for p in PLAYBOOKS if not _applies(w, p)}
    assert missing == NOT_APPLICABLE


@pytest.mark.parametrize(("what_if", "path"), CASES)
def test_what_if_moves_the_forecast_as_the_seeds_say(what_if, path: Path) -> None:
    effects = bench(path).effects(what_if)
    assert effects is not None
    for e in effects:
        change = e.change
        shown = "from 0" if change is None else f"{change:+.1%}"
        assert e.holds, (f"{what_if.id} on {path.stem}: {e.outcome} {e.a} -> {e.b} ({shown}); "
                         f"expected {'+' if e.expect.sign > 0 else '-'}"
                         f"{e.expect.min_effect:.0%} or more")


def test_twelve_extra_posts_silence_members_instead_of_making_them_talk() -> None:
    # the case the model once answered backwards: survivors of a spammed group spoke more
    w = next(w for w in WHAT_IFS if w.id == "twelve-extra-posts")
    for path in PLAYBOOKS:
        got = {e.outcome: e for e in bench(path).effects(w)}
        assert got["active_rate_last_week"].b < got["active_rate_last_week"].a
        assert got["members_end"].b < got["members_end"].a


def test_docs_table_reports_the_measured_sizes() -> None:
    from sopctl.simulate.whatif import table_rows

    doc = (ROOT / "docs/simulation.md").read_text(encoding="utf-8")
    m = re.search(r"<!-- what-if table -->\n(.*?)<!-- /what-if table -->", doc, re.S)
    assert m is not None, "docs/simulation.md has no generated what-if table"
    measured = table_rows({p.stem: bench(p) for p in PLAYBOOKS})
    assert m.group(1).strip().splitlines()[2:] == measured, (
        "the forecast changed: python benchmarks/simulate_bench.py --what-if-table --write")
    for w in WHAT_IFS:  # the table names outcomes as `simulate --compare` prints them
        for x in w.expect:
            if not x.outcome.startswith("converted_in"):
                assert label(x.outcome) in m.group(1)


def test_an_edit_reads_the_playbook_as_the_loader_does(tmp_path: Path) -> None:
    # YAML 1.1 would read 7:30 as 450 and `no` as false; the edited playbook keeps both
    text = (ROOT / "tests/simulate/standard.yaml").read_text(encoding="utf-8")
    assert text.count("\ntimetable:\n") == 1
    text = text.replace("\ntimetable:\n",
                        "\ntimetable:\n  - {id: late, kind: knowledge, at: 7:30, text: no}\n")
    p = tmp_path / "pb.yaml"
    p.write_text(text, encoding="utf-8")
    from sopctl.simulate.whatif import edited_playbook

    pb, title = edited_playbook(str(p), "no-welcome", WINDOW)
    late = next(s for s in pb.timetable if s.id == "late")
    assert pb.welcome is None and title == "no welcome"
    assert late.text == "no" and "7:30" in str(late.at)


def test_an_edit_that_breaks_the_playbook_is_a_usage_error(
        monkeypatch: pytest.MonkeyPatch) -> None:
    from sopctl.errors import UsageError
    from sopctl.simulate import whatif

    def zero_capacity(d: dict, w: whatif.Window) -> dict:
        d["positioning"]["capacity"] = 0  # capacity must be at least 1
        return {}

    broken = whatif.WhatIf("broken", "broken", zero_capacity, (), "")
    monkeypatch.setitem(whatif.BY_ID, "broken", broken)
    with pytest.raises(UsageError) as err:
        whatif.edited_playbook(str(ROOT / "tests/simulate/standard.yaml"), "broken", WINDOW)
    assert "makes" in err.value.message and "invalid" in err.value.message
