"""Views of a playbook that several rules share, computed once per lint run.

The timetable is expanded once per distinct opening weekday (at most seven nominal
openings), and slots with the same day pattern share one expansion, so the cost stays
linear in the number of slots and groups.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, timedelta
from typing import TYPE_CHECKING, Any

from ...i18n import N_, _

if TYPE_CHECKING:
    from ...playbook.model import Slot
    from ..context import Context

SAMPLE_DAYS = 28
MAX_HORIZON = 400
NOMINAL_OPENING = date(2026, 1, 5)  # a Monday, when the playbook lists no groups
WEEKDAYS = (N_("Monday"), N_("Tuesday"), N_("Wednesday"), N_("Thursday"), N_("Friday"),
            N_("Saturday"), N_("Sunday"))
# customer groups take one mass message a day: their own limits (SOP406), not the robot's
_PLATFORM_OF_TYPE = {"wecom-robot": "wecom", "wecom-customer-group": "wecom-customer-group",
                     "feishu": "feishu", "dingtalk": "dingtalk", "telegram": "telegram",
                     "slack": "slack", "discord": "discord"}


@dataclass(slots=True)
class SlotPlan:
    index: int
    mask: int  # bit k*horizon + day-1: fires on life day ``day`` after nominal opening k
    fires: int  # messages a day when it fires (cron times x messages of the sequence)
    starts: tuple[int, ...]  # fixed start minutes; () for a window
    window: tuple[int, int]  # earliest and latest start minute
    span: int  # seconds from the first to the last message of its sequence, at most


@dataclass(slots=True)
class Schedule:
    openings: list[date]
    horizon: int
    life: int  # the group's planned life in days
    plans: list[SlotPlan]

    def describe(self, bit: int) -> str:
        k, day0 = divmod(bit, self.horizon)
        d = self.openings[k] + timedelta(days=day0)
        return _("day {day} ({weekday})").format(day=day0 + 1,
                                                 weekday=weekday_name(d.weekday()))


def weekday_name(weekday: int) -> str:
    """Monday ... Sunday (0-6) in the selected language."""
    return _(WEEKDAYS[weekday])


def bits(mask: int) -> Iterator[int]:
    while mask:
        low = mask & -mask
        yield low.bit_length() - 1
        mask ^= low


def _cached(ctx: Context, name: str, build: Any) -> Any:
    store = ctx.__dict__.setdefault("_rule_cache", {})
    if name not in store:
        store[name] = build(ctx)
    return store[name]


def planned_life(ctx: Context) -> int:
    return ctx.playbook.positioning.planned_days or SAMPLE_DAYS


def schedule(ctx: Context) -> Schedule:
    return _cached(ctx, "schedule", _build_schedule)


def sequence_span(slot: Slot) -> int:
    """Seconds from the first to the last message of the slot's sequence, at most."""
    if len(slot.sequence) < 2:
        return 0
    hi = slot.spacing_s[1]
    return sum(hi if m.wait_s is None else m.wait_s for m in slot.sequence[1:])


def _build_schedule(ctx: Context) -> Schedule:
    from ...plan.calendar import fires_on

    pb = ctx.playbook
    first: dict[int, date] = {}
    for g in ctx.groups:
        wd = g.opened.weekday()
        if wd not in first or g.opened < first[wd]:
            first[wd] = g.opened
    openings = sorted(first.values()) or [NOMINAL_OPENING]
    life = planned_life(ctx)
    horizon = min(max(SAMPLE_DAYS, life), MAX_HORIZON)
    by_key: dict[tuple, int] = {}
    by_weekday = [[0] * 7 for _ in openings]  # life days (bits) falling on each weekday
    for k, opened in enumerate(openings):
        for day in range(horizon):
            by_weekday[k][(opened.weekday() + day) % 7] |= 1 << day
    plans: list[SlotPlan] = []
    for i, slot in enumerate(pb.timetable):
        if not slot.enabled:
            continue
        key = (slot.weekdays, slot.every_days, slot.cron, tuple(slot.dates), slot.life,
               len(slot.course), tuple(slot.phases))
        mask = by_key.get(key)
        if mask is None:
            mask = 0
            weekly = not (slot.dates or slot.phases or slot.every_days or slot.cron)
            for k, opened in enumerate(openings):
                days = _candidate_days(slot, opened, horizon)
                if weekly and isinstance(days, range):  # days of the week only: no per-day test
                    span = ((1 << days.stop) - 1) ^ ((1 << days.start) - 1) if days else 0
                    for wd in slot.weekdays:
                        mask |= (by_weekday[k][wd] & span) << (k * horizon)
                    continue
                for day in days:
                    if fires_on(slot, opened + timedelta(days=day), opened, pb.funnel):
                        mask |= 1 << (k * horizon + day)
            by_key[key] = mask
        n = max(1, len(slot.sequence))
        cron = slot.cron_spec
        if cron is not None:
            starts = tuple(h * 60 + m for h, m in cron.times())
            window = (starts[0], starts[-1]) if starts else (0, 0)
        else:
            lo, hi = slot.window or (0, 0)
            starts, window = ((lo,) if lo == hi else ()), (lo, hi)
        plans.append(SlotPlan(i, mask, n * max(1, len(starts)), starts, window,
                              sequence_span(slot)))
    return Schedule(openings, horizon, life, plans)


def _candidate_days(slot: Slot, opened: date, horizon: int) -> Iterator[int] | range:
    """Zero-based life days on which ``slot`` could fire at all: a day-N slot (a lesson,
    a life-day range, fixed dates) is only asked about its own days, which keeps a
    calendar-shaped timetable of thousands of one-day slots linear and cheap."""
    if slot.dates:
        return (d for d in sorted({(x - opened).days for x in slot.dates}) if 0 <= d < horizon)
    lo, hi = 0, horizon
    if slot.life is not None:
        first, last = slot.life
        lo, hi = max(lo, first - 1), min(hi, last if last is not None else horizon)
    if slot.course:
        hi = min(hi, len(slot.course))
    return range(lo, hi)


def block_mask(sched: Schedule, days: int) -> int:
    """Bits of life days 1..days in every nominal opening."""
    one = (1 << min(days, sched.horizon)) - 1
    out = 0
    for k in range(len(sched.openings)):
        out |= one << (k * sched.horizon)
    return out


# ----------------------------------------------------------------------------- channels

def platforms_of_channel(ctx: Context, name: str | None) -> set[str]:
    """Platforms a message sent through channel ``name`` reaches (None: the groups' defaults).

    Console, file and webhook channels stand in for the playbook's own platform.
    """
    pb = ctx.playbook
    if name is None:
        return _cached(ctx, "default_platforms", _default_platforms)
    ch = pb.channels.get(name)
    kind = _PLATFORM_OF_TYPE.get(ch.type) if ch is not None else None
    return {kind or pb.positioning.platform}


def _default_platforms(ctx: Context) -> set[str]:
    pb = ctx.playbook
    names = {g.channel or pb.channel for g in ctx.groups} or {pb.channel}
    out: set[str] = set()
    for n in names:
        out |= platforms_of_channel(ctx, n) if n is not None else {pb.positioning.platform}
    return out


def uses_wecom(ctx: Context) -> bool:
    pb = ctx.playbook
    return pb.positioning.platform == "wecom" or any(
        c.type.startswith("wecom") for c in pb.channels.values())


def over_cap(ctx: Context, target: str, cap: int) -> tuple[int, int, str] | None:
    """The busiest sampled day for slots aimed at ``target``, when it exceeds ``cap``:
    (index of the first slot over the cap that day, posts that day, the day)."""
    sched = schedule(ctx)
    pb = ctx.playbook
    plans = [p for p in sched.plans if pb.timetable[p.index].target == target and p.mask]
    weights: dict[int, int] = {}
    for p in plans:
        weights[p.mask] = weights.get(p.mask, 0) + p.fires
    counts: dict[int, int] = {}
    for mask, w in weights.items():
        for b in bits(mask):
            counts[b] = counts.get(b, 0) + w
    if not counts:
        return None
    worst = min(counts, key=lambda b: (-counts[b], b))
    if counts[worst] <= cap:
        return None
    total = 0
    for p in sorted((p for p in plans if p.mask >> worst & 1),
                    key=lambda p: (p.window[0], p.index)):
        total += p.fires
        if total > cap:
            return p.index, counts[worst], sched.describe(worst)
    return None  # pragma: no cover - the day's total exceeds the cap


def funnel_edges(ctx: Context) -> dict[str, list[tuple[str, str]]]:
    """Stage id -> [(edge kind, target id)]: ``next`` (or the following stage, by
    order, when unset) and ``otherwise``. Targets may be unknown ids."""
    f = ctx.playbook.funnel
    out: dict[str, list[tuple[str, str]]] = {}
    if f is None:
        return out
    stages = f.stages
    for i, st in enumerate(stages):
        edges = out.setdefault(st.id, [])
        if st.next is not None:
            edges.append(("next", st.next))
        elif "next" not in st.model_fields_set and i + 1 < len(stages):
            edges.append(("next", stages[i + 1].id))
        if st.otherwise is not None:
            edges.append(("otherwise", st.otherwise))
    return out
