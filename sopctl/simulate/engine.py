"""The vectorised forecast: numpy arrays of member state, one pass per simulated day.

No Python loop runs per member: every daily update is an array operation over all
members. Two uniforms per member-day drive everything random: one decides who speaks,
the other the day's competing events (a violation, a conversion or leaving; at most one).
Only the few members an event befalls are then handled, as small index arrays.

Speed comes from keeping the full-array work minimal: members who left are neutralised
(zero engagement, zero hazard) and compacted away once they are a sixth of the arrays; the
leave hazard of ``model.hazard`` is kept expanded into per-member coefficients
``h = c0 - c1 * e + max(0, rise * t - g)`` (``g = rise * (joined + onset)``, or huge once
converted) that change only when a member joins, ends their first week, or converts; with
the violation and conversion chances folded in, one threshold ``c0 + k1 * e + max(0,
rise * t - g)`` decides who has an event. Full-array work writes into scratch buffers.
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
    referral_rate,
    welcome_batches,
)

FIELDS = ("members", "joins", "leaves", "removed", "active", "messages", "ops_messages",
          "revenue", "groups_open")
F32 = np.float32
_NEVER = F32(1e30)  # a rise-term offset that keeps max(0, rise * t - g) at zero
# per-day temporaries, not member state
_SCRATCH = {"buf": F32, "buf2": F32, "rand": F32, "mask": bool}


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


_ARRAYS = {"alive": bool, "grp": np.int32, "stage": np.int16, "e": F32,
           "talk_s": F32, "joined": F32, "g": F32, "c0": F32, "c1": F32,
           "hmul": F32, "annoy": F32, "k1": F32, "viol": np.int16, "mute_until": np.int32,
           "due": np.int32, "pconv": F32, "conv": bool, "msgs": F32}


class _State:
    """Member arrays, grown by doubling and compacted when many have left."""

    def __init__(self, size: int):
        self.n = 0
        self.n_init = 0  # members present at the start come first; later ones by join day
        self.dead = 0
        self.runs: list[list[int]] = [[], []]  # members lie in runs of one group: group, length
        self._runs: tuple[np.ndarray, np.ndarray] | None = None
        for name, dt in (_ARRAYS | _SCRATCH).items():
            setattr(self, name, np.zeros(size, dt))

    def reserve(self, extra: int) -> None:
        if self.n + extra <= len(self.alive):
            return
        size = max(self.n + extra, 2 * len(self.alive))
        for name in _SCRATCH:
            setattr(self, name, np.zeros(size, _SCRATCH[name]))
        for name in _ARRAYS:
            old = getattr(self, name)
            new = np.zeros(size, old.dtype)
            new[: self.n] = old[: self.n]
            setattr(self, name, new)

    def compact(self) -> None:
        keep = np.flatnonzero(self.alive[: self.n])
        for name in _ARRAYS:
            arr = getattr(self, name)
            arr[: len(keep)] = arr[keep]
        self.n_init = int(np.searchsorted(keep, self.n_init))
        self.alive[len(keep): self.n] = False
        self.n, self.dead = len(keep), 0
        grp = self.grp[: self.n]
        starts = np.flatnonzero(np.r_[True, grp[1:] != grp[:-1]]) if self.n else \
            np.zeros(0, np.int64)
        self.runs = [grp[starts].tolist(), np.diff(np.r_[starts, self.n]).tolist()]
        self._runs = None

    def add_run(self, gi: int, k: int) -> None:
        if self.runs[0] and self.runs[0][-1] == gi:
            self.runs[1][-1] += k
        else:
            self.runs[0].append(gi)
            self.runs[1].append(k)
        self._runs = None

    def spread(self, per_group: np.ndarray) -> np.ndarray:
        """A per-group value for every member (runs make this a repeat, not a gather)."""
        if self._runs is None:
            self._runs = (np.array(self.runs[0], np.int64), np.array(self.runs[1], np.int64))
        return np.repeat(per_group[self._runs[0]], self._runs[1])


class _Groups:
    """Group-level arrays; operations come from one plan per distinct opening date."""

    def __init__(self, world: World, stage_of: dict[str, int]):
        self.world, self.stage_of = world, stage_of
        self.size = 0
        cap = max(16, 2 * len(world.groups))
        self.counts = np.zeros(cap, np.int64)
        self.stage = np.zeros(cap, np.int16)
        self.row = np.zeros(cap, np.int64)
        self.rows: dict = {}
        self.mats = [np.zeros((8, world.days), dt) for dt in (float, float, bool, np.int64)]
        for g in world.groups:
            self.add(g)

    def add(self, g: Group) -> None:
        if self.size == len(self.counts):
            for name in ("counts", "stage", "row"):
                old = getattr(self, name)
                new = np.zeros(2 * len(old), old.dtype)
                new[: self.size] = old
                setattr(self, name, new)
        i = self.size
        self.stage[i] = self.stage_of.get(g.stage or "", 0)
        if g.opened not in self.rows:
            r = self.rows[g.opened] = len(self.rows)
            if r == len(self.mats[0]):
                self.mats = [np.concatenate([m, np.zeros_like(m)]) for m in self.mats]
            ops = self.world.ops.get(g.opened)
            for m, f in zip(self.mats, (ops.units, ops.posts, ops.sale, ops.sent), strict=True):
                m[r] = f
        self.row[i] = self.rows[g.opened]
        self.size += 1

    def today(self, t: int) -> tuple[np.ndarray, ...]:
        r = self.row[: self.size]
        return tuple(m[:, t][r] for m in self.mats)


def run(world: World, rng: np.random.Generator,
        on_day: Callable[[], None] | None = None, track: bool = False) -> RunResult:
    """Simulate ``world.days`` days once; ``track`` keeps each member's message count
    (``member_messages``, for participation figures)."""
    p, st, days = world.p, world.stages, world.days
    S = len(st.ids)
    nxt, oth = np.array(st.next, np.int16), np.array(st.otherwise, np.int16)
    cdays, price = np.array(st.convert_days, np.int64), np.array(st.price)
    pconv_s = np.array(st.pconv, F32)
    any_deadline = bool((oth >= 0).any())
    # the shared ladder (events.policy), looked up by violation count
    last_rung = len(world.ladder_steps) - 1
    mutes = np.array([x == "mute" for x in world.ladder_steps])
    removes, bars = np.array(world.ladder_removes), np.array(world.ladder_blacklists)
    muting = bool(mutes.any())
    sigma, onset, scale = p["talk_sigma"], p["churn_onset_days"], p["speak_scale"]
    decay, gain, pv = p["engagement_decay"], p["engagement_gain"], world.violation_p
    base, quiet, rise = p["churn_base"], p["churn_quiet"], p["churn_rise"]
    conv_factor = p["churn_converted_factor"]
    batch_s = _batch_seconds(world)
    e_join = min(1.0, p["engagement_join"] + (p["welcome_boost"] if world.welcome else 0.0))
    early = early_term(world.welcome, p)

    s = _State(sum(world.initial) + int(world.join_lam * days * 1.3) + 64)
    gr = _Groups(world, {sid: i for i, sid in enumerate(st.ids)})

    def add_members(gi: int | np.ndarray, k: int, t: int,
                    joined: np.ndarray | None = None) -> None:
        """``k`` members into group ``gi`` (or one group index per member, in runs)."""
        s.reserve(k)
        a, b = s.n, s.n + k
        sg = gr.stage[gi]
        j = np.full(k, t, F32) if joined is None else joined
        talk = rng.lognormal(-sigma * sigma / 2, sigma, k)
        recent = j > t - EARLY_DAYS
        for name, v in (("alive", True), ("grp", gi), ("stage", sg),
                        ("talk_s", scale * talk), ("joined", j), ("g", rise * (j + onset)),
                        ("e", np.where(j > t - 1, e_join, p["engagement_join"])),
                        ("c0", base + quiet + early * recent + pv), ("c1", quiet),
                        ("k1", pconv_s[sg] - quiet),
                        ("hmul", 1.0), ("annoy", 0.0), ("viol", 0), ("mute_until", 0),
                        ("due", np.where(oth[sg] >= 0, t + cdays[sg], INF_DAY)),
                        ("pconv", pconv_s[sg]), ("conv", False), ("msgs", 0)):
            getattr(s, name)[a:b] = v
        s.n = b
        if isinstance(gi, np.ndarray):
            for g_, k_ in zip(*np.unique(gi, return_counts=True), strict=True):
                s.add_run(int(g_), int(k_))
            gr.counts[: gr.size] += np.bincount(gi, minlength=gr.size)
        else:
            s.add_run(gi, k)
            gr.counts[gi] += k

    # members present at the start joined between their group's opening and today
    sizes = np.array(world.initial, np.int64)
    lo = np.array([min(0, (g.opened - world.start).days) for g in world.groups], np.int64)
    gi_all = np.repeat(np.arange(len(sizes), dtype=np.int32), sizes)
    add_members(gi_all, int(sizes.sum()), 0,
                rng.integers(np.repeat(lo, sizes), 1).astype(F32))
    s.n_init = s.n

    series = {f: np.zeros(days) for f in FIELDS}
    conversions = np.zeros((S, days), np.int64)
    moved = np.zeros((S, days), np.int64)
    full_events: list[tuple[int, str, str]] = []
    stays: list[np.ndarray] = []
    gone_msgs: list[np.ndarray] = []
    member_days, alive_n, annoy_any, barred = 0, s.n, False, 0

    for t in range(days):
        # joins: acquisition plus referrals, placed by the live code
        lam_ref = float(referral_rate(float(s.e[: s.n].sum(dtype=np.float64)), p))
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
        alive_n += joins
        welcomes = sum(welcome_batches(k, batch_s) for k in join_by_group.values()) \
            if world.welcome else 0
        n = s.n
        e, grp = s.e[:n], s.grp[:n]
        units, posts, sale, sent = gr.today(t)
        sent_open = int(sent[gr.counts[: gr.size] > 0].sum())

        if t >= 1:  # the first week ends for those who joined EARLY_DAYS ago
            _end_first_week(s, t - EARLY_DAYS, early)

        # engagement (model.engage) and annoyance
        # e' = e (1 - d) + c (1 - e (1 - d)) = c + (1 - c)(1 - d) e
        c_g = 1.0 - np.exp(-gain * units)
        e *= s.spread(((1.0 - c_g) * (1.0 - decay)).astype(F32))
        e += s.spread(c_g.astype(F32))
        excess = np.maximum(0.0, posts - world.cap_per_day)
        if excess.any() or annoy_any:
            s.annoy[:n] *= F32(1 - p["annoyance_decay"])
            if excess.any():
                s.annoy[:n] += s.spread((p["annoyance_per_excess"] * excess).astype(F32))
            annoy_any = bool(s.annoy[:n].max() > 1e-4)

        # who speaks (model.speak_prob: the scale is folded into talk_s)
        ps = np.multiply(e, s.talk_s[:n], out=s.buf[:n])
        u = rng.random(n, F32, out=s.rand[:n])
        spoke = np.less(u, ps, out=s.mask[:n])
        # extra messages: one Poisson draw for the day's total (a sum of Poissons); with
        # ``track``, each speaker is credited with their expected share
        per_ps = p["messages_per_active"] / scale if scale else 0.0
        if track or muting:
            idx = np.flatnonzero(spoke)
            if muting and len(idx):
                idx = idx[s.mute_until[idx] <= t]
            lam = ps[idx] * F32(per_ps)
            active, lam_sum = len(idx), float(lam.sum(dtype=np.float64))
            s.msgs[idx] += 1 + lam
        else:
            active = int(np.count_nonzero(spoke))
            lam_sum = float(np.dot(ps, spoke.astype(F32))) * per_ps  # sum(where=) is slower
        messages = active + int(rng.poisson(lam_sum))

        # the day's competing events: violation, conversion, leaving (model.hazard)
        u = rng.random(n, F32, out=s.rand[:n])
        thr = np.multiply(s.k1[:n], e, out=s.buf[:n])
        thr += s.c0[:n]
        past = np.subtract(F32(rise * t), s.g[:n], out=s.buf2[:n])
        thr += np.maximum(past, F32(0), out=past)
        boost = np.where(sale, p["sale_boost"], 1.0)
        if sale.any():
            thr += s.pconv[:n] * e * s.spread((boost - 1.0).astype(F32))
        if annoy_any:
            thr += F32(p["annoyance_churn"]) * s.annoy[:n] * s.hmul[:n]
        cand = np.flatnonzero(np.less(u, thr, out=s.mask[:n]))  # never the departed
        uc = u[cand]
        pc = s.pconv[cand] * e[cand] * boost[grp[cand]]
        vi = cand[uc < pv]
        ci = cand[(uc >= pv) & (uc < pv + pc)]
        li = cand[uc >= pv + pc]

        removed = 0
        if len(vi):
            s.viol[vi] += 1
            rung = np.minimum(s.viol[vi], last_rung)
            s.mute_until[vi[mutes[rung]]] = t + int(p["mute_days"])
            gone = removes[rung]
            out = vi[gone]
            li = np.concatenate([li, out])
            removed = len(out)
            barred += int(np.count_nonzero(bars[rung] & gone))

        revenue = 0.0
        if len(ci):
            old = s.stage[ci]
            new = nxt[old]
            revenue = float(price[old].sum())
            s.stage[ci], s.conv[ci], s.g[ci] = new, True, _NEVER
            s.hmul[ci], s.pconv[ci] = conv_factor, pconv_s[new]
            recent = s.joined[ci] > t - EARLY_DAYS
            s.c0[ci] = (base + quiet + early * recent) * conv_factor + pv
            s.c1[ci] = quiet * conv_factor
            s.k1[ci] = s.pconv[ci] - s.c1[ci]
            s.due[ci] = np.where(oth[new] >= 0, t + cdays[new], INF_DAY)
            conversions[:, t] = np.bincount(new, minlength=S)

        # leavers are neutralised now and compacted away later
        unconv = li[~s.conv[li]]
        stays.append(t - s.joined[unconv])
        if track:
            gone_msgs.append(s.msgs[li].copy())
        gr.counts[: gr.size] -= np.bincount(grp[li], minlength=gr.size)
        for name in ("alive", "e", "talk_s", "c0", "c1", "pconv", "k1", "annoy"):
            getattr(s, name)[li] = 0
        s.g[li] = _NEVER
        s.due[li] = INF_DAY
        alive_n -= len(li)
        s.dead += len(li)

        if any_deadline:
            # leavers' deadlines are gone and converts' lie ahead: no one to exclude
            mi = np.flatnonzero(np.less_equal(s.due[:n], t, out=s.mask[:n]))
            if len(mi):
                new = oth[s.stage[mi]]
                s.stage[mi], s.pconv[mi] = new, pconv_s[new]
                s.k1[mi] = s.pconv[mi] - s.c1[mi]
                s.due[mi] = np.where(oth[new] >= 0, t + cdays[new], INF_DAY)
                moved[:, t] = np.bincount(new, minlength=S)

        member_days += alive_n
        for f, v in zip(FIELDS, (alive_n, joins, len(li), removed, active, messages,
                                 sent_open + welcomes, revenue,
                                 np.count_nonzero(gr.counts[: gr.size])), strict=True):
            series[f][t] = v
        if on_day is not None:
            on_day()
        if s.dead * 6 > s.n:
            s.compact()

    n = s.n
    stage_members = np.bincount(s.stage[:n][s.alive[:n]], minlength=S)
    per_member = np.concatenate([*gone_msgs, s.msgs[:n][s.alive[:n]]]) if track else None
    return RunResult(series, conversions, moved, stage_members, full_events, member_days,
                     np.concatenate(stays) if stays else np.zeros(0), per_member, barred)


def _end_first_week(s: _State, day: int, early: float) -> None:
    """Drop the first-week hazard of members who joined on ``day``."""
    if early == 0:
        return
    later = s.joined[s.n_init: s.n]  # sorted by join day
    lo, hi = np.searchsorted(later, [day, day + 0.5])
    idx = np.arange(s.n_init + lo, s.n_init + hi)
    if day <= 0:  # members present at the start joined on scattered days
        idx = np.concatenate([np.flatnonzero(s.joined[: s.n_init] == day), idx])
    idx = idx[s.alive[idx]]
    s.c0[idx] -= F32(early) * s.hmul[idx]


def _batch_seconds(world: World) -> int:
    from ..playbook.timeparse import parse_duration

    w = world.playbook.welcome
    return int(parse_duration(w.batch_window)) if w is not None else 180
