"""Data made by the forecast engine itself with known parameters: the ground truth of the
recovery tests, the benchmark and the worked example in docs/simulation.md."""

from __future__ import annotations

from datetime import date

from ..playbook.model import Playbook
from .fit import Simulator
from .observed import Observed


def generate(playbook: Playbook, *, start: date, days: int, groups: int,
             params: dict[str, float] | None = None, seed: int = 12345,
             fill: float = 0.6) -> Observed:
    """One simulated history of ``groups`` groups starting ``fill`` full, as WeCom's daily
    statistics would report it."""
    cap = playbook.positioning.capacity
    sim = Simulator(playbook, start, days, groups, round(fill * cap) * groups,
                    runs=1, seed=seed)
    s = sim.run(dict(params or {}))[0]
    conv = s["conversions"] if playbook.funnel is not None else None
    return Observed("generated", start, s["groups_open"], s["joins"], s["members"],
                    s["active"], s["messages"], s["leaves"], conv)
