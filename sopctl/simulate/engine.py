"""The vectorised forecast: numpy arrays of member state, one pass per simulated day.

No Python loop runs per member: every daily update is an array operation over all
members. Two uniforms per member-day drive everything random: one decides who speaks,
the other the day's competing events (a violation, a conversion, leaving or muting the
group; at most one); ``draws`` makes each from a random byte, completed only where the
byte cannot decide. Only the few members an event befalls are then handled, as small
index arrays.

Speed comes from keeping the full-array work minimal: members who left are neutralised
(every chance zeroed, left out of sums) and compacted away once they are a sixth of the
arrays; the leave hazard of ``model.hazard`` is kept expanded into per-member coefficients
``h = c0 - c1 * e + max(0, rise * t - g)`` (``g = rise * (joined + onset)``, or huge once
converted) that change only when a member joins, ends their first week, or converts; with
the violation and conversion chances folded in, one threshold ``c0 + k1 * e + max(0,
rise * t - g)`` decides who has an event (plus ``acoef * annoyance`` while anyone is
annoyed). ``c0``, ``k1``, ``g`` and ``acoef`` are kept 256 times their value (``S``), so the
threshold compares with each member's random byte as it is (draws.Draws.below); scaling by a
power of two is exact in floating point. Full-array work writes into scratch buffers.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from .deadlines import Deadlines
from .draws import JOINS, MESSAGES, NEGLECT, Draws
from .members import F32, Groups, State
from .model import (
    EARLY_DAYS,
    INF_DAY,
    World,
    batch_seconds,
    boosts,
    early_term,
    read_units,
    referral_rate,
    welcome_batches,
)

FIELDS = ("members", "joins", "leaves", "removed", "active", "messages", "ops_messages",
          "revenue", "groups_open")
_NEVER = F32(1e30)  # a rise-term offset that keeps max(0, rise * t - g) at zero
S = 256  # the scale of the event coefficients (c0, k1, g, acoef): a random byte's range


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
    blacklisted: int = 0  # members the ladder removed and barred from every group
    muted_group: int = 0  # members present at the end who have muted their group


def run(world: World, rng: np.random.Generator,
        on_day: Callable[[], None] | None = None, track: bool = False) -> RunResult:
    """Simulate ``world.days`` days once; ``track`` keeps each member's message count
    (``member_messages``, for participation figures)."""
    r = _Run(world, rng, track)
    for t in range(world.days):
        r.day(t)
        if on_day is not None:
            on_day()
    return r.result()


class _Run:
    """One run: the constants, the arrays, the series, and the day's steps in order."""

    def __init__(self, world: World, rng: np.random.Generator, track: bool):
        p, st = world.p, world.stages
        self.world, self.p, self.rng, self.track = world, p, rng, track
        self.draws = Draws(rng)
        self.S = len(st.ids)
        self.nxt, self.oth = np.array(st.next, np.int16), np.array(st.otherwise, np.int16)
        self.cdays, self.price = np.array(st.convert_days, np.int64), np.array(st.price)
        self.pconv_s = np.array(st.pconv, F32)
        self.any_deadline = bool((self.oth >= 0).any())
        # the shared ladder (events.policy), looked up by violation count
        self.last_rung = len(world.ladder_steps) - 1
        self.mutes = np.array([x == "mute" for x in world.ladder_steps])
        self.removes = np.array(world.ladder_removes)
        self.bars = np.array(world.ladder_blacklists)
        self.muting = bool(self.mutes.any())
        self.pv = world.violation_p
        self.early = early_term(world.welcome, p)
        self.e_join = min(1.0, p["engagement_join"]
                          + (p["welcome_boost"] if world.welcome else 0.0))
        # annoyance: a leave hazard for everyone, a chance to mute for those who have not
        self.a_churn, self.a_mute = F32(p["annoyance_churn"]), F32(p["annoyance_mute"])
        self.batch_s = batch_seconds(world)
        self.neglect_days, self.neglect_p = int(p["quiet_warn_days"]), p["neglect_mute"]
        self.boosts = np.array(boosts(p))  # by a day's sale level

        self.s = State(sum(world.initial) + int(world.join_lam * world.days * 1.3) + 64)
        self.gr = Groups(world, {sid: i for i, sid in enumerate(st.ids)})
        days = world.days
        self.series = {f: np.zeros(days) for f in FIELDS}
        self.conversions = np.zeros((self.S, days), np.int64)
        self.moved = np.zeros((self.S, days), np.int64)
        self.full_events: list[tuple[int, str, str]] = []
        self.stays: list[np.ndarray] = []
        self.gone_msgs: list[np.ndarray] = []
        self.member_days = self.barred = self.dnd_n = 0
        self.annoy_any = False
        self.deadlines = Deadlines()
        self._initial_members()
        self.alive_n = self.s.n

    # ------------------------------------------------------------------ members arrive

    def add_members(self, runs: list[tuple[int, int]], t: int, rng: np.random.Generator,
                    joined: np.ndarray | None = None) -> None:
        """Members into groups, ``(group index, members)`` in the order they are placed,
        all at once: one call a day keeps the per-call overhead off the daily loop."""
        s, gr, p = self.s, self.gr, self.p
        runs = [(g_, k_) for g_, k_ in runs if k_ > 0]
        if len(runs) == 1:  # one group (most days): scalars fill the slices
            gi, k = runs[0]
        else:
            k_arr = np.array([k_ for _, k_ in runs], np.int64)
            gi = np.repeat(np.array([g_ for g_, _ in runs], np.int32), k_arr)
            k = int(k_arr.sum())
        s.reserve(k)
        a, b = s.n, s.n + k
        sg = gr.stage[gi]
        sigma, rise, quiet = p["talk_sigma"], p["churn_rise"], p["churn_quiet"]
        talk = rng.lognormal(-sigma * sigma / 2, sigma, k)
        if joined is None:  # today's newcomers
            j, recent, e = float(t), True, self.e_join
        else:
            j, recent = joined, joined > t - EARLY_DAYS
            e = np.where(j > t - 1, self.e_join, p["engagement_join"])
        if np.ndim(sg) == 0:
            due = t + int(self.cdays[sg]) if self.oth[sg] >= 0 else INF_DAY
        else:
            due = np.where(self.oth[sg] >= 0, t + self.cdays[sg], INF_DAY)
        if self.any_deadline:
            self.deadlines.add(np.arange(a, b), due)
        for name, v in (("alive", True), ("alive_f", 1.0), ("grp", gi), ("stage", sg),
                        ("talk_s", 256 * p["speak_scale"] * talk), ("joined", j),
                        ("g", S * rise * (j + p["churn_onset_days"])), ("e", e),
                        ("c0", S * (p["churn_base"] + quiet + self.early * recent + self.pv)),
                        ("c1", quiet), ("k1", (self.pconv_s[sg] - quiet) * S),
                        ("hmul", 1.0), ("acoef", (self.a_churn + self.a_mute) * S),
                        ("due", due), ("pconv", self.pconv_s[sg])):  # the rest: ZERO_AT_JOIN
            getattr(s, name)[a:b] = v
        s.n = b
        for g_, k_ in runs:
            s.add_run(g_, k_)
            gr.counts[g_] += k_

    def _initial_members(self) -> None:
        """Members present at the start joined between their group's opening and today."""
        w = self.world
        sizes = np.array(w.initial, np.int64)
        lo = np.array([min(0, (g.opened - w.start).days) for g in w.groups], np.int64)
        self.add_members(list(enumerate(sizes.tolist())), 0, self.rng,
                         self.rng.integers(np.repeat(lo, sizes), 1).astype(F32))
        self.s.n_init = self.s.n
        self.first_joined = float(self.s.joined[: self.s.n].min(initial=0.0))

    # ------------------------------------------------------------------ one day

    def day(self, t: int) -> None:
        joins, welcomes = self.join(t)
        n = self.s.n
        units, posts, sale, sent = self.gr.today(t)
        sent_open = int(sent[self.gr.counts[: self.gr.size] > 0].sum())
        if t >= 1:  # the first week ends for those who joined EARLY_DAYS ago
            self.s.end_first_week(t - EARLY_DAYS, F32(S * self.early))
        self.engage(t, n, units, posts)
        active, messages = self.speak(t, n)
        leavers, removed, revenue = self.events(t, n, self.boosts[sale])
        self.leave(t, leavers)
        if self.any_deadline:
            self.move_past_deadline(t)
        self.member_days += self.alive_n
        gr = self.gr
        for f, v in zip(FIELDS, (self.alive_n, joins, len(leavers), removed, active, messages,
                                 sent_open + welcomes, revenue,
                                 np.count_nonzero(gr.counts[: gr.size])), strict=True):
            self.series[f][t] = v
        if self.s.dead * 6 > self.s.n:
            self.deadlines.remap(self.s.compact())

    def join(self, t: int) -> tuple[int, int]:
        """Acquisition plus referrals, placed by the live code; (joins, welcome messages)."""
        w, gr, p = self.world, self.gr, self.p
        # members present only: the departed's engagement is not kept at zero (engage
        # updates every slot until compaction)
        n = self.s.n
        lam_ref = float(referral_rate(float(np.dot(self.s.e[:n], self.s.alive_f[:n])), p))
        rng = self.draws.at(t, JOINS)
        n_join = int(rng.poisson(w.join_lam)) + int(rng.poisson(lam_ref))
        by_group: dict[int, int] = {}
        while n_join > 0:
            gi = w.live
            room = w.capacity - int(gr.counts[gi]) - by_group.get(gi, 0) if gi >= 0 else 0
            if room <= 0:
                g = w.new_group(t)
                if gi >= 0:
                    old = w.groups[gi]
                    self.full_events.append((t + 1, old.name or old.id, g.name or g.id))
                gr.add(g)
                continue
            k = min(room, n_join)
            by_group[gi] = by_group.get(gi, 0) + k
            n_join -= k
        if by_group:
            self.add_members(list(by_group.items()), t, rng)
        joins = sum(by_group.values())
        self.alive_n += joins
        welcomes = sum(welcome_batches(k, self.batch_s) for k in by_group.values()) \
            if w.welcome else 0
        return joins, welcomes

    def engage(self, t: int, n: int, units: np.ndarray, posts: np.ndarray) -> None:
        """Engagement (model.engage) and annoyance; posts do not reach a member who muted
        the group, whose engagement only decays."""
        s, p = self.s, self.p
        e = s.e[:n]
        decay = p["engagement_decay"]
        if self.dnd_n:
            tuned_out = np.flatnonzero(s.dnd[:n])
            kept = e[tuned_out]
        # e' = e (1 - d) + c (1 - e (1 - d)) = c + (1 - c)(1 - d) e
        c_g = 1.0 - np.exp(-p["engagement_gain"] * read_units(units, posts,
                                                                self.world.cap_per_day))
        e *= s.spread(((1.0 - c_g) * (1.0 - decay)).astype(F32))
        e += s.spread(c_g.astype(F32))
        if self.dnd_n:
            e[tuned_out] = kept * F32(1.0 - decay)
        excess = np.maximum(0.0, posts - self.world.cap_per_day)
        if excess.any() or self.annoy_any:
            s.annoy[:n] *= F32(1 - p["annoyance_decay"])
            if excess.any():
                s.annoy[:n] += s.spread((p["annoyance_per_excess"] * excess).astype(F32))
            self.annoy_any = bool(s.annoy[:n].max() > 1e-4)
        gr = self.gr
        quiet = gr.quiet[: gr.size]
        quiet[:] = np.where(units == 0, quiet + 1, 0)
        if self.neglect_p > 0:
            hit = np.flatnonzero(quiet == self.neglect_days)
            if len(hit):
                self.neglected(t, n, hit)

    def neglected(self, t: int, n: int, groups: np.ndarray) -> None:
        """Groups left ``quiet_warn_days`` days without operation: a share of their members
        mute them for good (seed 000: such a group goes quiet)."""
        s = self.s
        idx = np.flatnonzero(np.isin(s.grp[:n], groups) & s.alive[:n] & ~s.dnd[:n])
        if len(idx):
            u = self.draws.at(t, NEGLECT).random(len(idx))
            self.tune_out(idx[u < self.neglect_p])

    def speak(self, t: int, n: int) -> tuple[int, int]:
        """Who speaks (model.speak_prob, the scale folded into talk_s) and how much:
        (speakers, messages). The extra messages are one Poisson draw for the day's total
        (a sum of Poissons); with ``track``, each speaker is credited with their share.
        ``talk_s`` holds 256 times the chance at full engagement (draws.bernoulli)."""
        s, scale = self.s, self.p["speak_scale"]
        ps = np.multiply(s.e[:n], s.talk_s[:n], out=s.buf[:n])  # 256 x the chance
        spoke = self.draws.bernoulli(t, ps, s.mask[:n], s.buf2[:n], s.mask2[:n])
        per_ps = self.p["messages_per_active"] / scale / 256 if scale else 0.0
        if self.track or self.muting:
            idx = np.flatnonzero(spoke)
            if self.muting and len(idx):
                idx = idx[s.mute_until[idx] <= t]
            lam = ps[idx] * F32(per_ps)
            active, lam_sum = len(idx), float(lam.sum(dtype=np.float64))
            s.msgs[idx] += 1 + lam
        else:
            active = int(np.count_nonzero(spoke))
            lam_sum = float(np.dot(ps, spoke.astype(F32))) * per_ps  # sum(where=) is slower
        return active, active + int(self.draws.at(t, MESSAGES).poisson(lam_sum))

    def events(self, t: int, n: int, boost: np.ndarray) -> tuple[np.ndarray, int, float]:
        """The day's competing events (model.hazard, model.mute_chance), in the order
        violation, conversion, leaving, muting the group: (leavers, removed, revenue)."""
        s, p, pv = self.s, self.p, self.pv
        e, grp = s.e[:n], s.grp[:n]
        thr = np.multiply(s.k1[:n], e, out=s.buf[:n])
        thr += s.c0[:n]
        m = self.past_onset(t)
        past = np.subtract(F32(S * p["churn_rise"] * t), s.g[:m], out=s.buf2[:m])
        thr[:m] += np.maximum(past, F32(0), out=past)
        if (boost > 1.0).any():
            thr += s.pconv[:n] * e * s.spread(((boost - 1.0) * S).astype(F32))
        if self.annoy_any:
            thr += s.annoy[:n] * s.acoef[:n]
        cand, uc = self.draws.below(t, thr, s.mask[:n])  # never the departed
        pc = s.pconv[cand] * e[cand] * boost[grp[cand]]
        rest = uc >= pv + pc
        if self.annoy_any and self.a_mute:  # the last slice of thr is the mute chance
            mute = s.annoy[cand] * self.a_mute * ~s.dnd[cand]
            tune = rest & (uc >= thr[cand] * F32(1 / S) - mute)
            self.tune_out(cand[tune])
            rest &= ~tune
        li = cand[rest]
        removed = 0
        vi = cand[uc < pv]
        if len(vi):
            out = self.violate(t, vi)
            li = np.concatenate([li, out])
            removed = len(out)
        ci = cand[(uc >= pv) & (uc < pv + pc)]
        revenue = self.convert(t, ci) if len(ci) else 0.0
        return li, removed, revenue

    def past_onset(self, t: int) -> int:
        """End of the members who may be past the tenure onset (``g < rise * t``): those
        present at the start, then later ones by join day; the rest add zero (a day's
        margin keeps float32 rounding on the safe side)."""
        s, cut = self.s, t - self.p["churn_onset_days"] + 1
        if cut <= self.first_joined:
            return 0
        return s.n_init + int(np.searchsorted(s.joined[s.n_init: s.n], cut))

    def violate(self, t: int, vi: np.ndarray) -> np.ndarray:
        """One step along the ladder for each violator; returns those it removes."""
        s = self.s
        s.viol[vi] += 1
        rung = np.minimum(s.viol[vi], self.last_rung)
        s.mute_until[vi[self.mutes[rung]]] = t + int(self.p["mute_days"])
        gone = self.removes[rung]
        self.barred += int(np.count_nonzero(self.bars[rung] & gone))
        return vi[gone]

    def convert(self, t: int, ci: np.ndarray) -> float:
        """Converts move to the next stage, pay its price and lose the tenure term."""
        s, p = self.s, self.p
        old = s.stage[ci]
        new = self.nxt[old]
        factor, quiet = p["churn_converted_factor"], p["churn_quiet"]
        s.stage[ci], s.conv[ci], s.g[ci] = new, True, _NEVER
        pc_new = self.pconv_s[new]
        s.hmul[ci], s.pconv[ci] = factor, pc_new
        recent = s.joined[ci] > t - EARLY_DAYS
        s.c0[ci] = S * ((p["churn_base"] + quiet + self.early * recent) * factor + self.pv)
        s.c1[ci] = quiet * factor
        s.k1[ci] = (pc_new - F32(quiet * factor)) * S
        s.acoef[ci] = (self.a_churn * F32(factor) + self.a_mute * ~s.dnd[ci]) * S
        s.due[ci] = due = np.where(self.oth[new] >= 0, t + self.cdays[new], INF_DAY)
        if self.any_deadline:
            self.deadlines.add(ci, due)
        self.conversions[:, t] = np.bincount(new, minlength=self.S)
        return float(self.price[old].sum())

    def tune_out(self, idx: np.ndarray) -> None:
        """Members who mute the group: no more stimulus, no second mute."""
        if len(idx):
            s = self.s
            s.dnd[idx] = True
            s.acoef[idx] = self.a_churn * s.hmul[idx] * S
            self.dnd_n += len(idx)

    def leave(self, t: int, li: np.ndarray) -> None:
        """Leavers are neutralised now and compacted away later."""
        s, gr = self.s, self.gr
        unconv = li[~s.conv[li]]
        self.stays.append(t - s.joined[unconv])
        if self.track:
            self.gone_msgs.append(s.msgs[li].copy())
        gr.counts[: gr.size] -= np.bincount(s.grp[li], minlength=gr.size)
        if self.dnd_n:
            self.dnd_n -= int(np.count_nonzero(s.dnd[li]))
        # what keeps them out of every draw and sum (engage refills ``e`` and ``annoy``,
        # so the chances that multiply them are zeroed instead)
        for name in ("alive", "alive_f", "talk_s", "c0", "pconv", "k1", "annoy", "acoef",
                     "dnd"):
            getattr(s, name)[li] = 0
        s.g[li] = _NEVER
        s.due[li] = INF_DAY
        self.alive_n -= len(li)
        s.dead += len(li)

    def move_past_deadline(self, t: int) -> None:
        """Members past their stage's ``convert_days`` move to its ``otherwise`` stage
        (looked up by due day: leavers' and converts' old deadlines are stale there)."""
        s = self.s
        mi = self.deadlines.due_on(t, s.due)
        if len(mi):
            new = self.oth[s.stage[mi]]
            s.stage[mi], s.pconv[mi] = new, self.pconv_s[new]
            s.k1[mi] = (s.pconv[mi] - s.c1[mi]) * S
            s.due[mi] = due = np.where(self.oth[new] >= 0, t + self.cdays[new], INF_DAY)
            self.deadlines.add(mi, due)
            self.moved[:, t] = np.bincount(new, minlength=self.S)

    def result(self) -> RunResult:
        s, n = self.s, self.s.n
        alive = s.alive[:n]
        stage_members = np.bincount(s.stage[:n][alive], minlength=self.S)
        per_member = np.concatenate([*self.gone_msgs, s.msgs[:n][alive]]) \
            if self.track else None
        stays = np.concatenate(self.stays) if self.stays else np.zeros(0)
        return RunResult(self.series, self.conversions, self.moved, stage_members,
                         self.full_events, self.member_days, stays, per_member, self.barred,
                         int(np.count_nonzero(s.dnd[:n] & alive)))

