"""The member-dynamics model: its world (groups, funnel, operations) and its formulas.

Both implementations (the vectorised engine and the pure-Python reference) build the same
``World`` and call the same formulas, written with plain arithmetic so they work on a
float or on a numpy array alike. docs/simulation.md explains each one.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import TYPE_CHECKING, TypeVar

from ..events import policy
from ..playbook.model import Group, Playbook
from .ops import OpsBook, group_for, sim_group_name
from .params import resolve

if TYPE_CHECKING:
    import numpy as np

    Num = TypeVar("Num", float, np.ndarray)
else:
    Num = TypeVar("Num")

INF_DAY = 10**9
EARLY_DAYS = 7  # the first week, when a welcome matters most


@dataclass(slots=True)
class Stages:
    ids: list[str]
    next: list[int]  # stage index a conversion leads to, -1 if none
    otherwise: list[int]  # where the non-converted go after convert_days, -1 if nowhere
    convert_days: list[int]  # INF_DAY when the stage has no deadline
    price: list[float]  # what entering the next stage costs
    pconv: list[float]  # daily conversion chance of a fully engaged member (no sale)


@dataclass(slots=True)
class World:
    playbook: Playbook
    start: date
    days: int
    p: dict[str, float]
    groups: list[Group]  # the groups that exist at the start
    initial: list[int]  # their members at the start
    capacity: int
    join_lam: float  # expected joins a day from acquisition
    welcome: bool
    cap_per_day: int
    ladder: list[str]
    stages: Stages
    ops: OpsBook
    opened: list[date] = field(default_factory=list)  # grows as groups open

    violation_p: float = 0.0  # violation_rate when the playbook enforces any rule, else 0
    # the ladder per violation count 0..len(ladder) (policy.ladder_step; the last repeats)
    ladder_steps: list[str] = field(default_factory=list)
    ladder_removes: list[bool] = field(default_factory=list)
    ladder_blacklists: list[bool] = field(default_factory=list)
    live: int = -1  # index of the group the live code fills (-1: none yet)
    _next: list[int] = field(default_factory=list)  # last entry-stage number, last id number
    _taken: set[str] = field(default_factory=set)
    _pattern: str = ""  # new groups' name pattern

    def new_group(self, day: int) -> Group:
        """The next entry-stage group, opened on simulated day ``day`` (0-based) by the
        live code: numbered after the other entry-stage groups, named by the pattern."""
        entry = self.stages.ids[0]
        if not self._next:  # first call: scan once, then count on
            pond = [g for g in self.groups if (g.stage or entry) == entry]
            self._next = [max((g.number or 0 for g in pond), default=0), len(self.groups)]
            self._taken = {g.id for g in self.groups}
            self._pattern = (_stage_pattern(self.playbook, entry)
                             or self.playbook.positioning.name_pattern)
        self._next[0] += 1
        number = self._next[0]
        k = self._next[1] + 1
        while f"g{k:03d}" in self._taken:
            k += 1
        self._next[1] = k
        self._taken.add(f"g{k:03d}")
        g = Group(id=f"g{k:03d}", number=number, name=sim_group_name(self._pattern, number),
                  opened=self.start + timedelta(days=day),
                  stage=None if self.playbook.funnel is None else entry)
        self.groups.append(g)
        self.opened.append(g.opened)
        self.live = len(self.groups) - 1
        return g


def _stage_pattern(pb: Playbook, stage_id: str) -> str | None:
    if pb.funnel is None:
        return None
    return next((s.group_pattern for s in pb.funnel.stages if s.id == stage_id), None)


def build_world(playbook: Playbook, start: date, days: int, n_groups: int | None,
                cli_params: dict[str, float] | None = None, ops: OpsBook | None = None) -> World:
    """The starting point both implementations simulate from."""
    from ..plan.groups import group_number, playbook_groups

    p = resolve(playbook.simulation, cli_params)
    cap = playbook.positioning.capacity
    inv = [g for g in playbook_groups(playbook) if g.opened <= start]
    inv = [g.model_copy(update={"number": group_number(g) or i + 1}) for i, g in enumerate(inv)]
    want = n_groups if n_groups is not None else max(1, len(inv))
    groups = inv[:want]
    initial = [min(g.members, cap) for g in groups]
    fill = round(p["initial_fill"] * cap)
    n = max((g.number or 0 for g in groups), default=0)
    while len(groups) < want:
        n += 1
        groups.append(group_for(playbook, n, start, groups[-1] if groups else None))
        initial.append(fill)
    lam = sum(s.daily for s in playbook.acquisition) if playbook.acquisition \
        else p["default_daily_joins"]
    ladder = policy.ladder_for(playbook)
    w = World(playbook, start, days, p, groups, initial, cap, lam * p["join_scale"],
              policy.welcome_applies(playbook),
              min(playbook.caps.per_group_per_day, int(p["tolerated_posts"])),
              ladder, _stages(playbook, p),
              ops if ops is not None else OpsBook(playbook, start, days, p))
    w.opened = [g.opened for g in groups]
    w.violation_p = p["violation_rate"] if policy.rules_enforced(playbook) else 0.0
    w.ladder_steps, w.ladder_removes, w.ladder_blacklists = ladder_table(playbook, ladder)
    entry = w.stages.ids[0]
    pond = [i for i, g in enumerate(groups) if (g.stage or entry) == entry]
    w.live = max(pond, key=lambda i: (groups[i].opened, groups[i].number or 0), default=-1)
    return w


def ladder_table(pb: Playbook, ladder: list[str]) -> tuple[list[str], list[bool], list[bool]]:
    """policy.ladder_step evaluated once per violation count 0..len(ladder) (the last rung
    repeats, so a count beyond looks up the last entry): the step, whether it removes the
    member, whether it blacklists them."""
    steps = [policy.ladder_step(k, ladder) for k in range(len(ladder) + 1)]
    return (steps, [policy.removes(x) for x in steps],
            [policy.blacklists(pb, x) for x in steps])


def _stages(pb: Playbook, p: dict[str, float]) -> Stages:
    """Per stage, where a conversion leads (policy.next_stage) and what it costs: the
    cheapest purchase that meets the next stage's entry (policy.cheapest_entry) for a member
    who came this far along the funnel, carrying that path's spend and products."""
    if pb.funnel is None:
        return Stages(["all"], [-1], [-1], [INF_DAY], [0.0], [0.0])
    st = pb.funnel.stages
    idx = {s.id: i for i, s in enumerate(st)}
    nxt, oth, cdays = [], [], []
    for s in st:
        target = policy.next_stage(pb.funnel, s.id)
        nxt.append(idx[target.id] if target is not None else -1)
        oth.append(idx.get(s.otherwise, -1) if s.otherwise else -1)
        cdays.append(s.convert_days or INF_DAY)
    carried: dict[int, tuple[float, tuple[str, ...]]] = {0: (0.0, ())}
    order, price, buyable = [0], [0.0] * len(st), [False] * len(st)
    for i in order:  # breadth first from the entry stage; the list grows as it goes
        spend, bought = carried[i]
        j = nxt[i]
        buy = policy.cheapest_entry(pb, st[j], spend, bought) if j >= 0 else None
        price[i], buyable[i] = (buy[0], True) if buy else (0.0, False)  # None: by people
        got = (*bought, buy[1]) if buy and buy[1] else bought
        for k, state in ((j, (spend + price[i], got)), (oth[i], (spend, bought))):
            if k >= 0 and k not in carried:
                carried[k] = state
                order.append(k)
    for i in range(len(st)):  # stages no path reaches: a member with nothing bought
        if i not in carried and nxt[i] >= 0:
            buy = policy.cheapest_entry(pb, st[nxt[i]], 0.0, ())
            price[i], buyable[i] = (buy[0], True) if buy else (0.0, False)
    # an invitation or a task is decided by people: the runner never promotes into such a
    # stage on its own, so neither does the forecast
    pconv = [p["convert_rate"] * price_factor(pr, p) if j >= 0 and ok else 0.0
             for pr, j, ok in zip(price, nxt, buyable, strict=True)]
    return Stages([s.id for s in st], nxt, oth, cdays, price, pconv)


# ----------------------------------------------------------------------------- formulas

def price_factor(price: float, p: dict[str, float]) -> float:
    """The conversion chance halves at ``price_ref``: ref / (ref + price)."""
    return p["price_ref"] / (p["price_ref"] + max(0.0, price))


def closure(units: float, p: dict[str, float]) -> float:
    """Share of the gap to full engagement a day's operations close."""
    return 1.0 - math.exp(-p["engagement_gain"] * units)


def boosts(p: dict[str, float]) -> list[float]:
    """Conversion multiplier by a day's sale level (ops.DayOps.sale): none, offer, sale."""
    return [1.0, p["offer_boost"], p["sale_boost"]]


def read_units(units: Num, posts: Num, tolerated: int) -> Num:
    """Stimulus members take in: past the tolerated number of group posts a day they stop
    reading, so the day's units count only in the share tolerated / posts."""
    import numpy as np

    return units * np.minimum(1.0, tolerated / np.maximum(posts, 1))


def engage(e: Num, c: Num | float, p: dict[str, float]) -> Num:
    """Decay, then the day's stimulus closes a share ``c`` of the remaining gap."""
    e = e * (1.0 - p["engagement_decay"])
    return e + c * (1.0 - e)


def speak_prob(e: Num, talk: Num | float, p: dict[str, float]) -> Num:
    """Unclipped chance to speak today (callers clip at 1)."""
    return p["speak_scale"] * e * talk


def hazard(e: Num, past_onset: Num | float, early: Num | float, annoy: Num | float,
           hmul: Num | float, p: dict[str, float]) -> Num:
    """Daily leave hazard; ``past_onset`` = max(0, tenure - onset) for the unconverted,
    0 for the converted; ``early`` the first-week term; ``hmul`` 1 or the converted factor."""
    return (p["churn_base"] + p["churn_quiet"] * (1.0 - e) + p["churn_rise"] * past_onset
            + early + p["annoyance_churn"] * annoy) * hmul


def mute_chance(annoy: Num | float, p: dict[str, float]) -> Num:
    """Daily chance that an annoyed member who has not yet muted the group mutes it (the
    last of the day's competing events, after leaving)."""
    return p["annoyance_mute"] * annoy


def early_term(welcomed: bool, p: dict[str, float]) -> float:
    return p["churn_early_welcomed"] if welcomed else p["churn_early_unwelcomed"]


def referral_rate(e: Num, p: dict[str, float]) -> Num:
    """Expected members one member brings today."""
    return p["share_rate"] * e * p["share_success"] * p["joins_per_success"]


def welcome_batches(joins: int, batch_window_s: int) -> int:
    """Welcome messages for ``joins`` newcomers arriving uniformly over 14 waking hours when
    those within one batch window share a welcome (expected distinct windows, rounded)."""
    if joins <= 0:
        return 0
    w = max(1.0, 14 * 3600 / max(1, batch_window_s))
    return max(1, round(w * (1.0 - (1.0 - 1.0 / w) ** joins)))


def batch_seconds(world: World) -> int:
    """The welcome's batch window in seconds (180 without a welcome)."""
    from ..playbook.timeparse import parse_duration

    w = world.playbook.welcome
    return int(parse_duration(w.batch_window)) if w is not None else 180
