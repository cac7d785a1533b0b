"""Operations come from the plan; shared plans equal the full plans they stand for."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

import numpy as np
import pytest

from sopctl.simulate.ops import OpsBook, plan_ops
from sopctl.simulate.params import DEFAULTS, KIND_WEIGHTS, resolve

from ._sim import STANDARD, load

ROOT = Path(__file__).resolve().parents[2]
START = date(2026, 12, 1)
CASES = [STANDARD, ROOT / "examples/cron-slots.yaml", ROOT / "examples/lifecycle-phases.yaml",
         ROOT / "playbooks/skincare.yaml", ROOT / "playbooks/fruit.yaml",
         ROOT / "playbooks/knowledge.yaml"]


@pytest.mark.parametrize("path", [c for c in CASES if c.exists()], ids=lambda p: p.name)
@pytest.mark.parametrize("weekly", [True, False])
def test_shared_plans_equal_full_plans(path: Path, weekly: bool) -> None:
    pb = load(path)
    p = resolve()
    days = 45
    book = OpsBook(pb, START, days, p)
    book.weekly = weekly and book.weekly  # the periodic path serves every playbook
    for k in (-20, -3, 0, 1, 2, 5, 9, 16, 23, 30):
        opened = START + timedelta(days=k)
        got, want = book.get(opened), plan_ops(pb, opened, START, days, p)
        for name in ("units", "posts", "sent", "sale", "dropped"):
            assert np.array_equal(getattr(got, name), getattr(want, name)), (k, name)


def test_weekday_crons_share_plans_by_weekday() -> None:
    # fruit's only cron is "every Saturday": one plan per opening weekday serves every group
    assert OpsBook(load(ROOT / "playbooks/fruit.yaml"), START, 10, resolve()).weekly
    assert not OpsBook(load(ROOT / "examples/cron-slots.yaml"), START, 10, resolve()).weekly


def test_operations_follow_the_timetable() -> None:
    ops = plan_ops(load(), START, START, 21, resolve())
    # 2026-12-01 is a Tuesday; the Wednesday flash sale falls on days 2, 9, 16
    assert [i + 1 for i in np.flatnonzero(ops.sale)] == [2, 9, 16]
    assert ops.units[0] > 0 and (ops.sent > 0).all()
    pb = load()
    course = pb.model_copy(update={"timetable": [s for s in pb.timetable if s.id == "course"]})
    only = plan_ops(course, START, START, 21, resolve())
    assert list(only.sent) == [1] * 14 + [0] * 7  # lesson N on day N, then nothing
    assert only.units[0] == KIND_WEIGHTS["course"]
    late = plan_ops(load(), START + timedelta(days=5), START, 21, resolve())
    assert (late.sent[:5] == 0).all() and late.sent[5] > 0  # nothing before opening


def test_every_parameter_and_kind_weight_is_documented() -> None:
    doc = (ROOT / "docs/simulation.md").read_text(encoding="utf-8")
    import re

    for name, (default, _source) in DEFAULTS.items():
        row = re.search(rf"^\| `{name}` \| ([0-9.]+) \|", doc, re.M)
        assert row is not None and float(row.group(1)) == default, name
    for kind, weight in KIND_WEIGHTS.items():
        if kind != "default":
            assert f"{kind} {weight}" in doc, kind
