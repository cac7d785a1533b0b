"""Shared helpers for the forecast's tests."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import numpy as np

from sopctl.playbook.loader import load_playbook
from sopctl.playbook.model import Playbook
from sopctl.simulate.engine import RunResult, run
from sopctl.simulate.model import build_world

HERE = Path(__file__).parent
STANDARD = HERE / "standard.yaml"
START = date(2026, 12, 1)


def load(path: Path = STANDARD) -> Playbook:
    loaded = load_playbook(str(path))
    assert loaded.playbook is not None, [f.short() for f in loaded.findings]
    return loaded.playbook


def one_group(pb: Playbook, **update: object) -> Playbook:
    """The playbook run for one fresh 200-member group, with no joins."""
    return pb.model_copy(update={"acquisition": [], "groups": [], **update})


def simulate_once(pb: Playbook, days: int, seed: int, groups: int | None = 1,
                  params: dict[str, float] | None = None, track: bool = False) -> RunResult:
    world = build_world(pb, START, days, groups, params)
    return run(world, np.random.Generator(np.random.PCG64(seed)), track=track)
