"""Planning several representative groups in one call gives what separate plans give."""

from datetime import date, timedelta
from pathlib import Path

import numpy as np
import pytest

from sopctl.playbook.loader import load_playbook
from sopctl.simulate.ops import _life_structure, plan_ops, plan_ops_from_opening
from sopctl.simulate.params import resolve

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("path", ["playbooks/skincare.yaml", "examples/moments.yaml",
                                  "examples/quiet-hours.yaml", "examples/funnel.yaml"])
def test_one_call_matches_separate_plans(path: str) -> None:
    pb = load_playbook(str(ROOT / path)).playbook
    assert pb is not None
    p = resolve(pb.simulation, None)
    days = _life_structure(pb)[0] + 7
    openings = [date(2026, 12, 1) + timedelta(days=k) for k in range(7)]
    together = plan_ops_from_opening(pb, openings, days, p)
    for opened, ops in zip(openings, together, strict=True):
        alone = plan_ops(pb, opened, opened, days, p)
        for field in ("units", "posts", "sent", "sale", "dropped"):
            assert np.array_equal(getattr(ops, field), getattr(alone, field)), (opened, field)
    assert sum(int(o.sent.sum()) for o in together) > 0
