"""The vectorised forecast: numpy arrays of member state, one pass per simulated day.

No Python loop runs per member: every daily update is an array operation over all
members (dead ones are masked, and compacted away every few weeks). Two uniforms per
member-day drive everything random: one decides who speaks, the other the day's
competing events (a violation, a conversion or leaving, at most one of them).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from ..playbook.model import Group
from .model import (
    EARLY_DAYS,
    INF_DAY,
    World,
    early_term,
    engage,
    hazard,
    referral_rate,
    removal_count,
    speak_prob,
    welcome_batches,
)

FIELDS = ("members", "joins", "leaves", "removed", "active", "messages", "ops_messages",
          "revenue", "groups_open")
_COMPACT_EVERY = 30


@dataclass(slots=True)
class RunResult:
    """One run's per-day series, plus what happened to groups."""

    series: dict[str, np.ndarray]  # FIELDS -> (days,)
    conversions: np.ndarray  # (stages, days): members entering each stage by conversion
    moved: np.ndarray  # (stages, days): members moved into a stage after its deadline
    stage_members: np.ndarray  # (stages,) alive members per stage at the end
    full_events: list[tuple[int, str, str]] = field(default_factory=list)  # day, full, next
    member_days: int = 0
    stays: np.ndarray | None = None  # days stayed by unconverted members who left
    member_messages: np.ndarray | None = None  # messages written by each member ever present


class _State:
    """Member arrays, grown by doubling and compacted now and then."""

    NAMES = ("alive", "grp", "stage", "e", "talk", "joined", "early", "rise_from", "hmul",
             "annoy", "spend", "viol", "mute_until", "due", "pconv", "conv", "msgs")

    def __init__(self, size: int):
        self.n = 0
        self.alive = np.zeros(size, bool)
        self.grp = np.zeros(size, np.int32)
        self.stage = np.zeros(size, np.int16)
        self.e = np.zeros(size, np.float32)
        self.talk = np.zeros(size, np.float32)
        self.joined = np.zeros(size, np.float32)
        self.early = np.zeros(size, np.float32)
        self.rise_from = np.zeros(size, np.float32)
        self.hmul = np.ones(size, np.float32)
        self.annoy = np.zeros(size, np.float32)
        self.spend = np.zeros(size, np.float64)
        self.viol = np.zeros(size, np.int16)
        self.mute_until = np.zeros(size, np.int32)
        self.due = np.zeros(size, np.int32)
        self.pconv = np.zeros(size, np.float32)
        self.conv = np.zeros(size, bool)
        self.msgs = np.zeros(size, np.int32)

    def reserve(self, extra: int) -> None:
        need = self.n + extra
        if need <= len(self.alive):
            return
        size = max(need, 2 * len(self.alive))
        for name in self.NAMES:
            old = getattr(self, name)
            new = np.zeros(size, old.dtype)
            new[: self.n] = old[: self.n]
            setattr(self, name, new)

    def compact(self) -> None:
        keep = np.flatnonzero(self.alive[: self.n])
        for name in self.NAMES:
            arr = getattr(self, name)
            arr[: len(keep)] = arr[keep]
        self.alive[len(keep): self.n] = False
        self.n = len(keep)


def run(world: World, rng: np.random.Generator,
        on_day: Callable[[], None] | None = None) -> RunResult:
    """Simulate ``world.days`` days once."""
    p, st, days = world.p, world.stages, world.days
    S = len(st.ids)
    nxt = np.array(st.next, np.int16)
    oth = np.array(st.otherwise, np.int16)
    cdays = np.array(st.convert_days, np.int64)
    price = np.array(st.price)
    pconv_s = np.array(st.pconv, np.float32)
    stage_of = {s: i for i, s in enumerate(st.ids)}
    steps = np.array(world.ladder)
    remove_at = removal_count(world.ladder)
    sigma = p["talk_sigma"]
    onset = p["churn_onset_days"]
    batch_s = _batch_seconds(world)
    wboost = p["welcome_boost"] if world.welcome else 0.0
    e_join = min(1.0, p["engagement_join"] + wboost)
    early_new = early_term(world.welcome, p)

    s = _State(sum(world.initial) + int(world.join_lam * days * 1.3) + 64)
    gr = _Groups(world, stage_of)

    def add_members(gi: int, k: int, t: int, joined: np.ndarray | None = None) -> None:
        s.reserve(k)
        a, b = s.n, s.n + k
        s.alive[a:b] = True
        s.grp[a:b] = gi
        sg = int(gr.stage[gi])
        s.stage[a:b] = sg
        s.talk[a:b] = rng.lognormal(-sigma * sigma / 2, sigma, k)
        j = np.full(k, t, np.float32) if joined is None else joined
        s.joined[a:b] = j
        s.e[a:b] = np.where(j > t - 1, e_join, p["engagement_join"])
        s.early[a:b] = early_new
        s.rise_from[a:b] = j + onset
        s.hmul[a:b] = 1.0
        s.annoy[a:b] = 0.0
        s.spend[a:b] = 0.0
        s.viol[a:b] = 0
        s.mute_until[a:b] = 0
        s.due[a:b] = (t + cdays[sg]) if oth[sg] >= 0 else INF_DAY
        s.pconv[a:b] = pconv_s[sg]
        s.conv[a:b] = False
        s.msgs[a:b] = 0
        s.n = b
        gr.counts[gi] += k

    for gi, (g, k) in enumerate(zip(world.groups, world.initial, strict=True)):
        lo = min(0, (g.opened - world.start).days)
        add_members(gi, k, 0, rng.integers(lo, 1, k).astype(np.float32))

    series = {f: np.zeros(days) for f in FIELDS}
    conversions = np.zeros((S, days), np.int64)
    moved = np.zeros((S, days), np.int64)
    full_events: list[tuple[int, str, str]] = []
    stays: list[np.ndarray] = []
    gone_msgs: list[np.ndarray] = []
    member_days = 0
    annoy_any = False

    for t in range(days):
        n = s.n
        alive = s.alive[:n]
        e = s.e[:n]

        # joins: acquisition plus referrals, placed by the live code
        lam_ref = float(referral_rate(float(e[alive].sum()), p))
        n_join = int(rng.poisson(world.join_lam)) + int(rng.poisson(lam_ref))
        join_by_group: dict[int, int] = {}
        while n_join > 0:
            gi = world.live
            room = world.capacity - int(gr.counts[gi]) if gi >= 0 else 0
            if room <= 0:
                g = world.new_group(t)
                if gi >= 0:
                    old = world.groups[gi]
                    full_events.append((t + 1, old.name or old.id, g.name or g.id))
                gr.add(g)
                continue
            k = min(room, n_join)
            add_members(gi, k, t)
            join_by_group[gi] = join_by_group.get(gi, 0) + k
            n_join -= k
        joins = sum(join_by_group.values())
        welcomes = sum(welcome_batches(k, batch_s) for k in join_by_group.values()) \
            if world.welcome else 0
        n = s.n
        alive, e, grp = s.alive[:n], s.e[:n], s.grp[:n]
        units, posts, sale, sent = gr.today(t)
        sent_open = int(sent[gr.counts[: gr.size] > 0].sum())

        # engagement and annoyance
        c_g = (1.0 - np.exp(-p["engagement_gain"] * units)).astype(np.float32)
        e[:] = engage(e, c_g[grp], p)
        excess = np.maximum(0.0, posts - world.cap_per_day)
        if excess.any():
            s.annoy[:n] = s.annoy[:n] * (1 - p["annoyance_decay"]) + \
                (p["annoyance_per_excess"] * excess).astype(np.float32)[grp]
            annoy_any = True
        elif annoy_any:
            s.annoy[:n] *= 1 - p["annoyance_decay"]

        # who speaks
        talk = s.talk[:n]
        ps = speak_prob(e, talk, p)
        spoke = alive & (rng.random(n, np.float32) < ps) & (s.mute_until[:n] <= t)
        idx = np.flatnonzero(spoke)
        per = 1 + rng.poisson(p["messages_per_active"] * talk[idx] * e[idx])
        s.msgs[idx] += per.astype(np.int32)
        messages = int(per.sum())

        # the day's competing events
        u = rng.random(n, np.float32)
        pv = p["violation_rate"]
        pc = s.pconv[:n] * e
        if sale.any():
            pc = pc * np.where(sale, np.float32(p["sale_boost"]), np.float32(1))[grp]
        joined = s.joined[:n]
        early = s.early[:n] * (joined > t - EARLY_DAYS)
        past = np.maximum(0.0, t - s.rise_from[:n])
        h = hazard(e, past, early, s.annoy[:n], s.hmul[:n], p)
        viol = alive & (u < pv)
        u = u - pv
        conv = alive & (u >= 0) & (u < pc)
        leave = alive & (u >= pc) & (u < pc + h)

        removed = 0
        vi = np.flatnonzero(viol)
        if len(vi):
            s.viol[vi] += 1
            counts_v = s.viol[vi].astype(np.int64)
            step = steps[np.minimum(counts_v, len(steps)) - 1]
            s.mute_until[vi[step == "mute"]] = t + int(p["mute_days"])
            out = vi[counts_v >= remove_at]
            leave[out] = True
            removed = len(out)

        revenue = 0.0
        ci = np.flatnonzero(conv)
        if len(ci):
            old = s.stage[ci]
            new = nxt[old]
            revenue = float(price[old].sum())
            s.spend[ci] += price[old]
            s.stage[ci] = new
            s.conv[ci] = True
            s.rise_from[ci] = INF_DAY
            s.hmul[ci] = p["churn_converted_factor"]
            s.pconv[ci] = pconv_s[new]
            s.due[ci] = np.where(oth[new] >= 0, t + cdays[new], INF_DAY)
            conversions[:, t] = np.bincount(new, minlength=S)
        mi = np.flatnonzero(alive & ~conv & ~leave & (s.due[:n] <= t))
        if len(mi):
            new = oth[s.stage[mi]]
            s.stage[mi] = new
            s.pconv[mi] = pconv_s[new]
            s.due[mi] = np.where(oth[new] >= 0, t + cdays[new], INF_DAY)
            moved[:, t] = np.bincount(new, minlength=S)

        li = np.flatnonzero(leave)
        alive[li] = False
        unconv = li[~s.conv[li]]
        stays.append(t - joined[unconv])
        gone_msgs.append(s.msgs[li])
        gr.counts[: gr.size] -= np.bincount(grp[li], minlength=gr.size)

        members = int(np.count_nonzero(alive))
        member_days += members
        rec = series
        rec["members"][t] = members
        rec["joins"][t] = joins
        rec["leaves"][t] = len(li)
        rec["removed"][t] = removed
        rec["active"][t] = len(idx)
        rec["messages"][t] = messages
        rec["ops_messages"][t] = sent_open + welcomes
        rec["revenue"][t] = revenue
        rec["groups_open"][t] = int(np.count_nonzero(gr.counts[: gr.size]))
        if on_day is not None:
            on_day()
        if (t + 1) % _COMPACT_EVERY == 0:
            s.compact()

    n = s.n
    stage_members = np.bincount(s.stage[:n][s.alive[:n]], minlength=S)
    per_member = np.concatenate([*gone_msgs, s.msgs[:n][s.alive[:n]]])
    return RunResult(series, conversions, moved, stage_members, full_events, member_days,
                     np.concatenate(stays) if stays else np.zeros(0), per_member)


class _Groups:
    """Group-level arrays; operations come from one plan per distinct opening date."""

    def __init__(self, world: World, stage_of: dict[str, int]):
        self.world, self.stage_of = world, stage_of
        self.size = 0
        self.counts = np.zeros(max(16, 2 * len(world.groups)), np.int64)
        self.stage = np.zeros(len(self.counts), np.int16)
        self.row = np.zeros(len(self.counts), np.int64)
        self.rows: dict = {}
        self.mats: tuple[np.ndarray, ...] = ()
        for g in world.groups:
            self.add(g, restack=False)
        self._restack()

    def add(self, g: Group, restack: bool = True) -> None:
        if self.size == len(self.counts):
            for name in ("counts", "stage", "row"):
                old = getattr(self, name)
                new = np.zeros(2 * len(old), old.dtype)
                new[: self.size] = old
                setattr(self, name, new)
        i = self.size
        self.stage[i] = self.stage_of.get(g.stage or "", 0)
        if g.opened not in self.rows:
            self.rows[g.opened] = len(self.rows)
            if restack:
                self._restack()
        self.row[i] = self.rows[g.opened]
        self.size += 1

    def _restack(self) -> None:
        ops = [self.world.ops.get(d) for d in self.rows]
        self.mats = tuple(np.stack([getattr(o, f) for o in ops])
                          for f in ("units", "posts", "sale", "sent"))

    def today(self, t: int) -> tuple[np.ndarray, ...]:
        r = self.row[: self.size]
        return tuple(m[:, t][r] for m in self.mats)


def _batch_seconds(world: World) -> int:
    from ..playbook.timeparse import parse_duration

    w = world.playbook.welcome
    return int(parse_duration(w.batch_window)) if w is not None else 180
