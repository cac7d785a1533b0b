"""The same model in plain Python, one member at a time: slow, obvious, kept as the yardstick.

Tests check that the vectorised engine matches it in distribution (means over many runs)
and the benchmark measures how much faster the engine is. It shares ``World`` and every
formula with the engine; only the bookkeeping differs.
"""

from __future__ import annotations

import math
import random

from ..events import policy
from ..playbook.model import Group
from .engine import FIELDS
from .model import (
    EARLY_DAYS,
    INF_DAY,
    World,
    batch_seconds,
    boosts,
    closure,
    early_term,
    engage,
    hazard,
    mute_chance,
    read_units,
    referral_rate,
    speak_prob,
    welcome_batches,
)


def _poisson(rnd: random.Random, lam: float) -> int:
    """Knuth's method, in chunks so large means do not underflow."""
    k = 0
    while lam > 0:
        step = min(lam, 30.0)
        lam -= step
        limit, prod = math.exp(-step), rnd.random()
        while prod > limit:
            k += 1
            prod *= rnd.random()
    return k


class _Member:
    __slots__ = ("annoy", "conv", "dnd", "due", "e", "early", "grp", "hmul", "joined", "msgs",
                 "mute_until", "pconv", "rise_from", "spend", "stage", "talk", "viol")


def run_reference(world: World, seed: int) -> dict:
    """One run; returns the per-day series (FIELDS), conversions per stage and the stays."""
    rnd = random.Random(seed)
    p, st, days = world.p, world.stages, world.days
    S = len(st.ids)
    sigma, onset = p["talk_sigma"], p["churn_onset_days"]
    wboost = p["welcome_boost"] if world.welcome else 0.0
    e_join = min(1.0, p["engagement_join"] + wboost)
    early_new = early_term(world.welcome, p)
    stage_of = {s: i for i, s in enumerate(st.ids)}
    batch_s = batch_seconds(world)
    boost = boosts(p)
    members: list[_Member] = []
    counts: list[int] = []
    quiet: list[int] = []  # per group: days in a row without any operation
    neglect_days = int(p["quiet_warn_days"])
    gstage: list[int] = []

    def due_for(sg: int, t: int) -> int:
        return t + st.convert_days[sg] if st.otherwise[sg] >= 0 else INF_DAY

    def add(gi: int, t: int, joined: int) -> None:
        m = _Member()
        m.grp, m.stage = gi, gstage[gi]
        m.talk = rnd.lognormvariate(-sigma * sigma / 2, sigma)
        m.joined = joined
        m.e = e_join if joined > t - 1 else p["engagement_join"]
        m.early, m.rise_from, m.hmul = early_new, joined + onset, 1.0
        m.annoy = m.spend = 0.0
        m.viol = m.mute_until = m.msgs = 0
        m.dnd = False  # has muted the group: posts no longer reach them
        m.due, m.pconv, m.conv = due_for(m.stage, t), st.pconv[m.stage], False
        members.append(m)
        counts[gi] += 1

    def open_group(g: Group) -> None:
        counts.append(0)
        quiet.append(0)
        gstage.append(stage_of.get(g.stage or "", 0))

    for gi, (g, k) in enumerate(zip(world.groups, world.initial, strict=True)):
        open_group(g)
        lo = min(0, (g.opened - world.start).days)
        for _ in range(k):
            add(gi, 0, rnd.randint(lo, 0))

    out = {f: [0.0] * days for f in FIELDS}
    conversions = [[0] * days for _ in range(S)]
    stays: list[float] = []
    barred = 0
    for t in range(days):
        lam_ref = sum(referral_rate(m.e, p) for m in members)
        n_join = _poisson(rnd, world.join_lam) + _poisson(rnd, lam_ref)
        by_group: dict[int, int] = {}
        while n_join > 0:
            gi = world.live
            if gi < 0 or counts[gi] >= world.capacity:
                open_group(world.new_group(t))
                continue
            add(gi, t, t)
            by_group[gi] = by_group.get(gi, 0) + 1
            n_join -= 1
        ops = [world.ops.get(g.opened) for g in world.groups]
        sent = sum(int(o.sent[t]) for o, k in zip(ops, counts, strict=True) if k > 0)
        c = [closure(float(read_units(o.units[t], o.posts[t], world.cap_per_day)), p)
             for o in ops]
        excess = [max(0.0, o.posts[t] - world.cap_per_day) for o in ops]
        quiet[:] = [q + 1 if o.units[t] == 0 else 0 for q, o in zip(quiet, ops, strict=True)]
        neglected = [q == neglect_days for q in quiet]
        active = messages = removed = 0
        revenue = 0.0
        survivors = []
        for m in members:
            if neglected[m.grp] and not m.dnd and rnd.random() < p["neglect_mute"]:
                m.dnd = True  # a group left a week without operation: muted for good
            m.e = engage(m.e, 0.0 if m.dnd else c[m.grp], p)
            m.annoy = m.annoy * (1 - p["annoyance_decay"]) + p["annoyance_per_excess"] * \
                excess[m.grp]
            if rnd.random() < speak_prob(m.e, m.talk, p) and m.mute_until <= t:
                n = 1 + _poisson(rnd, p["messages_per_active"] * m.talk * m.e)
                active, messages, m.msgs = active + 1, messages + n, m.msgs + n
            u = rnd.random()
            pc = m.pconv * m.e * boost[ops[m.grp].sale[t]]
            early = m.early if m.joined > t - EARLY_DAYS else 0.0
            h = hazard(m.e, max(0.0, t - m.rise_from), early, m.annoy, m.hmul, p)
            pv = world.violation_p
            gone = False
            if u < pv:
                m.viol += 1
                step = policy.ladder_step(m.viol, world.ladder)
                if step == "mute":
                    m.mute_until = t + int(p["mute_days"])
                elif policy.removes(step):
                    gone, removed = True, removed + 1
                    barred += policy.blacklists(world.playbook, step)
            elif u < pv + pc:
                old, new = m.stage, st.next[m.stage]
                revenue += st.price[old]
                m.spend += st.price[old]
                m.stage, m.conv, m.rise_from = new, True, INF_DAY
                m.hmul, m.pconv, m.due = p["churn_converted_factor"], st.pconv[new], due_for(new, t)
                conversions[new][t] += 1
            elif u < pv + pc + h:
                gone = True
            elif not m.dnd and u < pv + pc + h + mute_chance(m.annoy, p):
                m.dnd = True
            if not gone and not (pv <= u < pv + pc) and m.due <= t:
                new = st.otherwise[m.stage]
                m.stage, m.pconv, m.due = new, st.pconv[new], due_for(new, t)
            if gone:
                counts[m.grp] -= 1
                if not m.conv:
                    stays.append(t - m.joined)
            else:
                survivors.append(m)
        leaves = len(members) - len(survivors)
        members = survivors
        welcomes = sum(welcome_batches(k, batch_s) for k in by_group.values()) \
            if world.welcome else 0
        rec = (len(members), sum(by_group.values()), leaves, removed, active, messages,
               sent + welcomes, revenue, sum(1 for k in counts if k > 0))
        for f, v in zip(FIELDS, rec, strict=True):
            out[f][t] = v
    return {"series": out, "conversions": conversions, "stays": stays,
            "member_messages": [m.msgs for m in members], "blacklisted": barred,
            "muted_group": sum(m.dnd for m in members)}
